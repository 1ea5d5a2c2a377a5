"""The reports as stored under `reports/`, parsed once at the boundary (`read_stored_reports`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import NotFound
from chalicelib.core.layout import (
    BEST_YEARS_JSON_KEY,
    POPULATION_STATS_KEY,
    SERIES_POPULATION_JSON_KEY,
)
from chalicelib.core.store import Store
from chalicelib.reports.documents import BestYears, PopulationStats, SeriesPopulation


@dataclass(frozen=True)
class StoredReports:
    """The JSON reports found in the store (None: absent); `unreadable`: keys of those that are not valid."""

    population_stats: PopulationStats | None = None
    best_years: BestYears | None = None
    series_population: SeriesPopulation | None = None
    unreadable: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when no report was found (the reports were never computed)."""
        found = (self.population_stats, self.best_years, self.series_population)
        return all(report is None for report in found) and not self.unreadable

    def to_dict(self) -> dict[str, Any] | None:
        """`{report name: stored document}` of the reports found (an unreadable one: `{"error": ...}`), or None."""
        found: dict[str, Any] = {}
        for key, report in ((POPULATION_STATS_KEY, self.population_stats), (BEST_YEARS_JSON_KEY, self.best_years),
                            (SERIES_POPULATION_JSON_KEY, self.series_population)):
            name = _report_name(key)
            if report is not None:
                found[name] = report.to_dict()
            elif key in self.unreadable:
                found[name] = {"error": f"{key} is not valid JSON"}
        return found or None


def read_stored_reports(store: Store) -> StoredReports:
    """Parse the stored JSON reports once, at the boundary (a missing one is None, a broken one unreadable)."""
    unreadable: list[str] = []
    return StoredReports(
        _read(store, POPULATION_STATS_KEY, PopulationStats.from_dict, unreadable),
        _read(store, BEST_YEARS_JSON_KEY, BestYears.from_dict, unreadable),
        _read(store, SERIES_POPULATION_JSON_KEY, SeriesPopulation.from_dict, unreadable),
        tuple(unreadable),
    )


def _read[T](store: Store, key: str, parse: Callable[[dict[str, Any]], T], unreadable: list[str]) -> T | None:
    """The parsed report at `key`; None if absent or not valid (then added to `unreadable`)."""
    try:
        return parse(json.loads(store.read(key).body))
    except NotFound:
        return None
    except (ValueError, KeyError, TypeError):
        unreadable.append(key)
        return None


def _report_name(key: str) -> str:
    return key.rsplit("/", 1)[-1].removesuffix(".json")
