"""What the explorer reads from the gold layer: typed answers, turned into JSON only at the edge
(`to_dict`). Decimal values are exact text (`"123.4"`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SurveySummary:
    """A mirrored survey: its series count (None while it has no gold catalog), files, bytes, last change."""

    survey: str
    series_count: int | None
    files: int
    bytes: int
    last_change: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Latest:
    """The latest sub-annual observation and its change from the same period a year earlier."""

    year: int
    period: str
    value: str
    year_ago_value: str | None
    change: str | None
    pct_change: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SeriesHit:
    """One search result."""

    series_id: str
    title: str
    periodicity: str
    latest: Latest | None

    def to_dict(self) -> dict[str, Any]:
        return {"series_id": self.series_id, "title": self.title, "periodicity": self.periodicity,
                "latest": self.latest.to_dict() if self.latest else None}


@dataclass(frozen=True)
class SearchResult:
    """The first `limit` matches, best first, and how many series matched in all."""

    survey: str
    total: int
    hits: list[SeriesHit]


@dataclass(frozen=True)
class CatalogEntry:
    survey: str
    series_id: str
    title: str
    seasonal: str | None
    periodicity: str
    begin_year: int | None
    begin_period: str | None
    end_year: int | None
    end_period: str | None
    codes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    year: int
    period: str
    value: str
    footnote_codes: str | None


@dataclass(frozen=True)
class AnnualRow:
    year: int
    periods: int
    value_sum: str | None
    value_mean: str | None
    published_annual: str | None
    complete: bool


@dataclass(frozen=True)
class BestYear:
    year: int
    value: str
    basis: str


@dataclass(frozen=True)
class SeriesDetail:
    """One series: catalog entry, every observation (exact text), annual rows, best year, latest."""

    catalog: CatalogEntry
    observations: list[Observation]
    observation_count: int  # before truncation
    annual: list[AnnualRow]
    best_year: BestYear | None
    latest: Latest | None

    @property
    def truncated(self) -> bool:
        return self.observation_count > len(self.observations)

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self.catalog)
        document.update(
            observation_count=self.observation_count,
            truncated=self.truncated,
            observations=[asdict(o) for o in self.observations],
            annual=[asdict(a) for a in self.annual],
            best_year=asdict(self.best_year) if self.best_year else None,
            latest=self.latest.to_dict() if self.latest else None,
        )
        return document
