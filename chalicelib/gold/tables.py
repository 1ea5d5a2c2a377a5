"""The gold tables: their columns, partitions and keys (see /docs/gold.md and GOLD-INTERFACE).

    gold/series_catalog/survey=<survey>/data.parquet
    gold/series_annual/survey=<survey>/data.parquet
    gold/series_best_year/survey=<survey>/data.parquet
    gold/series_latest/survey=<survey>/data.parquet

One Parquet object per survey and table, replaced at once (like silver). `survey` is the
partition column of every table. Decimal columns have the silver value type
(`chalicelib.lake.tables.VALUE_PRECISION/SCALE`): exact; `value_mean` is rounded half-even to
that scale. `pct_change` is the only floating-point column (100 * change / year_ago_value).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.core.layout import GOLD_PREFIX
from chalicelib.lake.tables import PART_NAME, VALUE_PRECISION, VALUE_SCALE

SERIES_CATALOG, SERIES_ANNUAL, SERIES_BEST_YEAR, SERIES_LATEST = (
    "series_catalog", "series_annual", "series_best_year", "series_latest")
TABLES = (SERIES_CATALOG, SERIES_ANNUAL, SERIES_BEST_YEAR, SERIES_LATEST)
DECIMAL = f"decimal({VALUE_PRECISION},{VALUE_SCALE})"
PERIODICITIES = ("monthly", "quarterly", "semiannual", "annual", "mixed")
BASIS_SUB_ANNUAL, BASIS_ANNUAL = "sub-annual sum", "annual"

# Each table's columns with their Hive/Glue types (the Parquet files hold exactly these).
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
DECIMAL_COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(name for name, kind in columns if kind == DECIMAL) for table, columns in COLUMNS.items()}

_KEY = re.compile("^" + re.escape(GOLD_PREFIX) + r"(?P<table>[a-z_]+)/survey=(?P<survey>[a-z0-9_-]+)/"
                  + re.escape(PART_NAME) + "$")


@dataclass(frozen=True)
class GoldPartition:
    """One gold object: a table's partition of one survey."""

    table: str
    survey: str

    @property
    def prefix(self) -> str:
        """The partition's folder (ends in '/')."""
        return f"{table_prefix(self.table)}survey={self.survey}/"

    @property
    def key(self) -> str:
        """The object's key."""
        return f"{self.prefix}{PART_NAME}"

    @property
    def values(self) -> list[str]:
        """The partition column values (Glue `Values`)."""
        return [self.survey]


def partitions(survey: str) -> list[GoldPartition]:
    """The four partitions of a survey, in `TABLES` order."""
    return [GoldPartition(table, survey) for table in TABLES]


def partition_for_key(key: str) -> GoldPartition | None:
    """The gold partition of an object key (None for anything else)."""
    match = _KEY.match(key)
    if not match or match["table"] not in TABLES:
        return None
    return GoldPartition(match["table"], match["survey"])


def table_prefix(table: str) -> str:
    """The folder of a gold table (ends in '/')."""
    return f"{GOLD_PREFIX}{table}/"


BASES = (BASIS_SUB_ANNUAL, BASIS_ANNUAL)


def partition_key(table: str, survey: str) -> str:
    """The object of one survey's partition of `table`."""
    return GoldPartition(table, survey).key


def survey_of_key(table: str, key: str) -> str | None:
    """The survey whose partition of `table` `key` is, or None for any other key."""
    partition = partition_for_key(key)
    return partition.survey if partition is not None and partition.table == table else None
