"""Named queries over the gold tables (Athena) — the same text the tests run on DuckDB.

The `.sql` files are `string.Template`s; only ANSI SQL common to Trino and DuckDB is used,
identifiers that are keywords in one of them are double-quoted. Parameters are validated here
(a series id or survey of the BLS alphabet, an integer limit), never free text.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

QUERY_DIR = Path(__file__).parent
GOLD_QUERIES = ("series_history", "best_years", "latest_changes")
EXAMPLE_SERIES_ID = "CUUR0000SA0"  # the CPI-U all-items index: the named query's example
EXAMPLE_SURVEY = "cu"
_TEXT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def gold_queries(*, series_id: str = EXAMPLE_SERIES_ID, survey: str = EXAMPLE_SURVEY, limit: int = 100) -> dict[str, str]:
    """name → SQL of the gold named queries for these parameters."""
    for name, value in (("series_id", series_id), ("survey", survey)):
        if not _TEXT.match(value):
            raise ValueError(f"{name} {value!r}: letters, digits, '_', '.', '-' only")
    values = {"series_id": series_id, "survey": survey, "limit": int(limit)}
    return {name: Template((QUERY_DIR / f"{name}.sql").read_text()).substitute(values) for name in GOLD_QUERIES}
