"""Population from DataUSA. (Stub: the population issue completes this module.)"""

from __future__ import annotations

import json
from typing import NamedTuple


class PopulationRecord(NamedTuple):
    """One year of U.S. population."""

    year: int
    population: int


def parse_population(body: bytes) -> list[PopulationRecord]:
    """Normalize a DataUSA response (tesseract or retired shape) to records sorted by year."""
    rows = json.loads(body)["data"]
    return sorted(PopulationRecord(int(r["Year"]), int(r["Population"])) for r in rows)
