"""The three reports as SQL over the silver tables: one text each, for Athena and DuckDB alike.

The `.sql` files beside this module are `string.Template`s; `report_queries(settings)` fills
in the report settings (the data file, series, period, years). Both engines run the same
text: only ANSI SQL common to Trino (Athena) and DuckDB is used, identifiers that are
keywords in one of them are double-quoted. Values are validated settings (patterns for
series ids and periods, integers for years, the checked data key), never free text.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from chalicelib.bls.periods import ANNUAL, QUARTERS
from chalicelib.core.settings import Settings

QUERY_DIR = Path(__file__).parent
REPORT_QUERIES = ("population_stats", "best_years", "series_population")
PUBLISHED_REVISIONS = "bls_revisions_published"  # the view of published_revisions_query (DuckDB; Athena: a named query)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$")


def report_queries(settings: Settings, *, include_annual: bool = False) -> dict[str, str]:
    """name → SQL of the three reports for these settings."""
    _, survey, file = settings.report_data_key.split("/")
    periods = QUARTERS + ((ANNUAL,) if include_annual else ())
    values = {
        "survey": _literal(survey),
        "file": _literal(file),
        "periods": ", ".join(f"'{_literal(p)}'" for p in periods),
        "series_id": _literal(settings.report_series_id),
        "period": _literal(settings.report_period),
        "start_year": int(settings.report_start_year),
        "end_year": int(settings.report_end_year),
    }
    return {name: Template((QUERY_DIR / f"{name}.sql").read_text()).substitute(values) for name in REPORT_QUERIES}


def _literal(text: str) -> str:
    """Text for inside a single-quoted SQL literal."""
    return text.replace("'", "''")


def published_revisions_query(*, data: str = "bls_data", revisions: str = "bls_revisions") -> str:
    """`bls_revisions` as published (only objects whose partition is written; docs/lake.md), over the
    tables `data` and `revisions`: for Athena and DuckDB alike."""
    return Template((QUERY_DIR / "bls_revisions_published.sql").read_text()).substitute(data=data, revisions=revisions)


def as_of_query(as_of: str, *, data: str = "bls_data", revisions: str = "bls_revisions") -> str:
    """`bls_data` as published at `as_of` (a timestamp text `YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC), over the
    tables `data` (current values) and `revisions`: the rule of docs/lake.md, for Athena and DuckDB alike."""
    if not _TIMESTAMP.match(as_of):
        raise ValueError(f"not a timestamp: {as_of!r}")
    published = published_revisions_query(data=data, revisions=revisions)
    return Template((QUERY_DIR / "bls_data_as_of.sql").read_text()).substitute(
        as_of=as_of, data=data, published=published.strip())


AS_OF_EXAMPLE = "2026-01-01 23:59:59.999999"  # the end of 2026-01-01, UTC: edit it in the saved query


def revision_queries() -> dict[str, str]:
    """name → SQL of the revisions' saved queries: the published rows, and bls_data as of `AS_OF_EXAMPLE`."""
    return {PUBLISHED_REVISIONS: published_revisions_query(), "bls_data_as_of": as_of_query(AS_OF_EXAMPLE)}
