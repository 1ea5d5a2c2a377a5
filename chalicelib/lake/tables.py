"""The silver tables: their columns, and which bronze key feeds which table and partition.

    silver/bls_data/survey=<survey>/file=<data file name>/data.parquet   <- bls/<survey>/<survey>.data.*
    silver/bls_series/survey=<survey>/data.parquet                       <- bls/<survey>/<survey>.series
    silver/population/data.parquet                                       <- population/population.json

Hive-style partition folders, so Athena (Glue partitions) and DuckDB (`hive_partitioning`)
read the same objects as the same tables. One object per partition: replacing it is atomic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.core.layout import BLS_PREFIX, POPULATION_KEY, SILVER_PREFIX, data_key

BLS_DATA, BLS_SERIES, POPULATION = "bls_data", "bls_series", "population"
BLS_REVISIONS = "bls_revisions"  # issue 21: written by chalicelib.lake.revisions
TABLES = (BLS_DATA, BLS_SERIES, POPULATION, BLS_REVISIONS)
PART_NAME = "data.parquet"
# bls_data.value: DECIMAL(24, 6), exact: 18 digits before the point, 6 after (11-byte cells)
VALUE_PRECISION, VALUE_SCALE = 24, 6

# Each table's columns with their Hive/Glue types (the Parquet files hold these), then its
# partition columns (folder names, strings). The Glue tables and the DuckDB views use these.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    BLS_DATA: (("series_id", "string"), ("year", "int"), ("period", "string"),
               ("value", f"decimal({VALUE_PRECISION},{VALUE_SCALE})"), ("footnote_codes", "string"),
               ("vintage", "timestamp")),  # the version's vintage (lake.revisions): the same in every row
    BLS_SERIES: (("series_id", "string"), ("series_title", "string"), ("footnote_codes", "string"),
                 ("begin_year", "int"), ("begin_period", "string"), ("end_year", "int"), ("end_period", "string"),
                 ("codes", "string")),
    POPULATION: (("year", "int"), ("population", "bigint")),
}
# bls_revisions: one row per observation that differs between two versions of a data file (docs/lake.md);
# its values have bls_data's value type, whatever that is.
COLUMNS[BLS_REVISIONS] = (
    ("series_id", "string"), ("year", "int"), ("period", "string"),
    ("previous_value", dict(COLUMNS[BLS_DATA])["value"]), ("value", dict(COLUMNS[BLS_DATA])["value"]),
    ("change", "string"), ("footnote_codes", "string"), ("previous_footnote_codes", "string"),
    ("vintage", "timestamp"), ("previous_vintage", "timestamp"), ("recorded_at", "timestamp"),
)
PARTITION_KEYS: dict[str, tuple[str, ...]] = {BLS_DATA: ("survey", "file"), BLS_SERIES: ("survey",), POPULATION: (),
                                              BLS_REVISIONS: ("survey", "file", "release")}

_DATA_FILE = re.compile("^" + re.escape(BLS_PREFIX) + r"(?P<survey>[a-z0-9_-]+)/(?P<file>(?P=survey)\.data\.[^/]+)$")
_SERIES_FILE = re.compile("^" + re.escape(BLS_PREFIX) + r"(?P<survey>[a-z0-9_-]+)/(?P=survey)\.series$")
_PARTITION = re.compile("^" + re.escape(SILVER_PREFIX) + r"(?P<table>bls_data|bls_series)/survey=(?P<survey>[^/]+)"
                        r"(/file=(?P<file>[^/]+))?/" + re.escape(PART_NAME) + "$")


@dataclass(frozen=True)
class Partition:
    """One silver object and the bronze object it is made from."""

    table: str
    source_key: str
    survey: str = ""
    file: str = ""

    @property
    def key(self) -> str:
        """The silver object's key."""
        return f"{self.prefix}{PART_NAME}"

    @property
    def prefix(self) -> str:
        """The partition's folder (ends in '/')."""
        if self.table == BLS_DATA:
            return f"{SILVER_PREFIX}{BLS_DATA}/survey={self.survey}/file={self.file}/"
        if self.table == BLS_SERIES:
            return f"{SILVER_PREFIX}{BLS_SERIES}/survey={self.survey}/"
        return f"{SILVER_PREFIX}{POPULATION}/"

    @property
    def values(self) -> list[str]:
        """The partition column values, in the table's order (Glue `Values`)."""
        return [v for v in (self.survey, self.file) if v]


def partition_for_source(key: str) -> Partition | None:
    """The silver partition made from bronze `key`, or None if the key feeds no table."""
    if key == POPULATION_KEY:
        return Partition(POPULATION, key)
    if match := _DATA_FILE.match(key):
        return Partition(BLS_DATA, key, match["survey"], match["file"])
    if match := _SERIES_FILE.match(key):
        return Partition(BLS_SERIES, key, match["survey"])
    return None


def partition_for_silver_key(key: str) -> Partition | None:
    """The partition a silver object key belongs to (None for anything else under silver/)."""
    if key == f"{SILVER_PREFIX}{POPULATION}/{PART_NAME}":
        return Partition(POPULATION, POPULATION_KEY)
    match = _PARTITION.match(key)
    if not match or (match["table"] == BLS_DATA) != bool(match["file"]):
        return None
    survey = match["survey"]
    if match["table"] == BLS_DATA:
        return Partition(BLS_DATA, data_key(survey, match["file"]), survey, match["file"])
    return Partition(BLS_SERIES, data_key(survey, f"{survey}.series"), survey)


def table_prefix(table: str) -> str:
    """The folder of a table (ends in '/')."""
    return f"{SILVER_PREFIX}{table}/"
