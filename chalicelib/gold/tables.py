"""The gold tables (issue 20): their columns and where each survey's partition is stored.

    gold/series_catalog/survey=<survey>/data.parquet
    gold/series_annual/survey=<survey>/data.parquet
    gold/series_best_year/survey=<survey>/data.parquet
    gold/series_latest/survey=<survey>/data.parquet

Hive-style partition folders like silver (chalicelib/lake/tables.py): Athena (Glue partitions)
and DuckDB read the same objects as the same tables; one object per partition, replaced
atomically. `survey` is the partition column of every table (a folder name, not in the file).
Decimal columns use the silver value type; `value_mean` is rounded half-even to that scale.
"""

from __future__ import annotations

from chalicelib.core.layout import GOLD_PREFIX
from chalicelib.lake.tables import VALUE_PRECISION, VALUE_SCALE

SERIES_CATALOG, SERIES_ANNUAL, SERIES_BEST_YEAR, SERIES_LATEST = (
    "series_catalog", "series_annual", "series_best_year", "series_latest")
TABLES = (SERIES_CATALOG, SERIES_ANNUAL, SERIES_BEST_YEAR, SERIES_LATEST)
PART_NAME = "data.parquet"
DECIMAL = f"decimal({VALUE_PRECISION},{VALUE_SCALE})"

# Each table's columns with their Hive/Glue types (the Parquet files hold these), then its
# partition columns. `codes` is a JSON object: code column -> {"code": ..., "name": ...}.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    SERIES_CATALOG: (("series_id", "string"), ("title", "string"), ("seasonal", "string"),
                     ("periodicity", "string"), ("begin_year", "int"), ("begin_period", "string"),
                     ("end_year", "int"), ("end_period", "string"), ("codes", "string")),
    SERIES_ANNUAL: (("series_id", "string"), ("year", "int"), ("periods", "int"), ("value_sum", DECIMAL),
                    ("value_mean", DECIMAL), ("published_annual", DECIMAL), ("complete", "boolean")),
    SERIES_BEST_YEAR: (("series_id", "string"), ("year", "int"), ("value", DECIMAL), ("basis", "string")),
    SERIES_LATEST: (("series_id", "string"), ("year", "int"), ("period", "string"), ("value", DECIMAL),
                    ("year_ago_value", DECIMAL), ("change", DECIMAL), ("pct_change", "double")),
}
PARTITION_KEYS: dict[str, tuple[str, ...]] = {table: ("survey",) for table in TABLES}
PERIODICITIES = ("monthly", "quarterly", "semiannual", "annual", "mixed")
BASES = ("sub-annual sum", "annual")


def table_prefix(table: str) -> str:
    """The folder of a gold table (ends in '/')."""
    return f"{GOLD_PREFIX}{table}/"


def partition_key(table: str, survey: str) -> str:
    """The object of one survey's partition of `table`."""
    return f"{table_prefix(table)}survey={survey}/{PART_NAME}"


def survey_of_key(table: str, key: str) -> str | None:
    """The survey whose partition of `table` `key` is, or None for any other key."""
    rest = key.removeprefix(table_prefix(table))
    folder, _, name = rest.partition("/")
    if rest == key or name != PART_NAME or not folder.startswith("survey=") or len(folder) == len("survey="):
        return None
    return folder.removeprefix("survey=")
