"""The three reports as typed values; `to_dict()` is the stored JSON document, `from_dict` reads it back.

Keys and file names: chalicelib.core.layout. Definitions: chalicelib.reports.definitions and
chalicelib.reports.scan.
A document that does not have the documented shape raises KeyError/TypeError/ValueError
in `from_dict` (callers treat it as absent or unreadable).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class YearPopulation:
    """One year of the population statistics' input."""

    year: int
    population: int


@dataclass(frozen=True)
class PopulationStats:
    """Report 1: mean and standard deviations of the population over start..end."""

    start_year: int
    end_year: int
    years: list[int]
    mean: float
    std: float | None  # sample (ddof=1); undefined for one year
    std_population: float  # ddof=0
    population: list[YearPopulation]

    def to_dict(self) -> dict[str, Any]:
        """The stored `population_stats.json` document."""
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> PopulationStats:
        """Read the stored document back."""
        return cls(
            int(document["start_year"]), int(document["end_year"]), [int(y) for y in document["years"]],
            float(document["mean"]), None if document["std"] is None else float(document["std"]),
            float(document["std_population"]),
            [YearPopulation(int(p["year"]), int(p["population"])) for p in document["population"]],
        )


@dataclass(frozen=True)
class BestYear:
    """Report 2, one row: the year with the largest sum of a series' quarterly values."""

    series_id: str
    year: int
    value: float

    def to_dict(self) -> dict[str, Any]:
        """`asdict` without its recursive copy (~10^5 rows)."""
        return {"series_id": self.series_id, "year": self.year, "value": self.value}


@dataclass(frozen=True)
class BestYears:
    """Report 2: the best year per series, the series without quarterly rows, and what was skipped."""

    include_annual: bool
    series: list[BestYear]
    no_quarterly_series: list[str]
    invalid_values: int = 0
    invalid_value_samples: list[dict[str, Any]] = field(default_factory=list)
    malformed_lines: int = 0
    rows_read: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The stored `best_years.json` document (fields in order, as `asdict`)."""
        return {
            "include_annual": self.include_annual,
            "series": [row.to_dict() for row in self.series],
            "no_quarterly_series": list(self.no_quarterly_series),
            "invalid_values": self.invalid_values,
            "invalid_value_samples": copy.deepcopy(self.invalid_value_samples),
            "malformed_lines": self.malformed_lines,
            "rows_read": self.rows_read,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> BestYears:
        """Read the stored document back."""
        return cls(
            bool(document["include_annual"]),
            [BestYear(str(r["series_id"]), int(r["year"]), r["value"]) for r in document["series"]],
            [str(s) for s in document["no_quarterly_series"]],
            int(document["invalid_values"]), list(document["invalid_value_samples"]),
            int(document["malformed_lines"]), int(document["rows_read"]),
        )


@dataclass(frozen=True)
class SeriesPopulationRow:
    """Report 3, one row: a year's value of the series/period and that year's population (None: unknown)."""

    series_id: str
    year: int
    period: str
    value: float | Decimal | None  # Decimal: an exact value a float cannot carry (> 15 digits, from silver)
    population: int | None

    def to_dict(self) -> dict[str, Any]:
        """The row as stored and served."""
        return {"series_id": self.series_id, "year": self.year, "period": self.period, "value": self.value,
                "population": self.population}


@dataclass(frozen=True)
class SeriesPopulation:
    """Report 3: one series/period joined with the population, by year."""

    series_id: str
    period: str
    rows: list[SeriesPopulationRow]

    def to_dict(self) -> dict[str, Any]:
        """The stored `series_population.json` document."""
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> SeriesPopulation:
        """Read the stored document back."""
        rows = [SeriesPopulationRow(str(r["series_id"]), int(r["year"]), str(r["period"]), r["value"],
                                    None if r["population"] is None else int(r["population"]))
                for r in document["rows"]]
        return cls(str(document["series_id"]), str(document["period"]), rows)
