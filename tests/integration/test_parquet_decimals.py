"""Nullable DECIMAL(24,6) columns (gold's published_annual, year_ago_value, change): written as
OPTIONAL FIXED_LEN_BYTE_ARRAY cells, read back exactly by DuckDB and by the gold reader."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

from chalicelib.gold.stored import read_parquet
from chalicelib.lake.parquet import Decimal as DecimalType
from chalicelib.lake.parquet import write_parquet

# Cells whose low-order bytes are zero (4.000000 = 0x3D0900), a NULL, negatives, the widest value.
UNSCALED = [4_000_000, None, -5, 256_000_000, 10**24 - 1, -(10**24 - 1), 0]


def _written(tmp_path: Path) -> Path:
    frame = pd.DataFrame({"series_id": [f"S{i}" for i in range(len(UNSCALED))],
                          "value": pd.array(UNSCALED, dtype=object)})
    out = io.BytesIO()
    write_parquet(out, [frame], {"value": DecimalType(24, 6)})
    path = tmp_path / "part.parquet"
    path.write_bytes(out.getvalue())
    return path


def test_nullable_decimals_read_back_exactly_in_duckdb(tmp_path: Path) -> None:
    # GIVEN a nullable decimal column written by the lake's writer
    path = _written(tmp_path)
    # WHEN DuckDB reads it
    rows = duckdb.sql(f"SELECT value, typeof(value) FROM '{path}' ORDER BY series_id").fetchall()
    # THEN every value is the exact decimal (NULL stays NULL), typed DECIMAL(24,6)
    expected = [None if v is None else Decimal(v).scaleb(-6) for v in UNSCALED]
    assert [r[0] for r in rows] == expected
    assert {r[1] for r in rows} == {"DECIMAL(24,6)"}


def test_nullable_decimals_read_back_exactly_in_the_gold_reader(tmp_path: Path) -> None:
    # GIVEN the same file WHEN the explorer's reader reads it THEN the unscaled integers come back as written
    frame, scales = read_parquet(str(_written(tmp_path)), ["series_id", "value"])
    assert frame["value"].tolist() == UNSCALED
    assert scales == {"value": 6}
