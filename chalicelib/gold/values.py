"""Exact values in and out of Parquet for the gold layer — the one place that knows their encoding.

Silver `bls_data.value` is a DECIMAL(p, s) stored either as INT64 (p <= 18) or as
FIXED_LEN_BYTE_ARRAY cells (big-endian two's complement, wider p). Both are read here as the
unscaled integers, never through a float (fastparquet would turn a DECIMAL into a double: the
annotation is removed before reading). Values come back as an int64 array when every one
fits, else as an object array of Python ints: numpy sums, differences and comparisons are exact
on both. Gold decimal columns are written at the silver value type (`DECIMAL_TYPE`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.core.errors import PipelineError
from chalicelib.lake.parquet import Decimal as DecimalType
from chalicelib.lake.parquet import cell_ints, open_raw
from chalicelib.lake.tables import VALUE_PRECISION, VALUE_SCALE

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DECIMAL_TYPE = DecimalType(VALUE_PRECISION, VALUE_SCALE)
LIMIT = 10**VALUE_PRECISION  # every gold decimal is below this in magnitude (unscaled)
INT64_SAFE = 2**62  # below this, sums of two int64 values cannot overflow


class GoldFailed(PipelineError):
    """A survey's gold tables could not be built; its previous partitions are unchanged."""


@dataclass
class SilverRows:
    """One row group of a `bls_data` partition: categorical series/period, int year, exact values."""

    series: pd.Categorical
    year: np.ndarray
    period: pd.Categorical
    value: np.ndarray  # int64, or object (Python ints) when some value does not fit int64


def open_data(path: str) -> Any:
    """A fastparquet ParquetFile of a `bls_data` partition whose value column reads as stored (`open_raw`)."""
    try:
        parquet, decimals = open_raw(path)
    except ValueError as error:
        raise GoldFailed(f"{path}: {error}") from error
    value = decimals.get("value")
    if value is None or value.scale != VALUE_SCALE:
        raise GoldFailed(f"{path}: value has scale {value.scale if value else None}, expected {VALUE_SCALE}")
    return parquet


def data_row_groups(parquet: Any, row_groups: list[int]) -> Iterator[SilverRows]:
    """The chosen row groups of an `open_data` file, one `SilverRows` each."""
    for index in row_groups:
        group = parquet.row_groups[index]
        frame = parquet.read_row_group_file(group, ["series_id", "year", "period", "value"],
                                            categories=["series_id", "period"])
        values = frame["value"].to_numpy()
        if values.dtype.kind == "V":  # FIXED_LEN_BYTE_ARRAY cells
            values = cell_ints(values)
        yield SilverRows(_categorical(frame["series_id"]), frame["year"].to_numpy(), _categorical(frame["period"]),
                         values.astype("int64") if values.dtype.kind in "iu" else values)


def _categorical(column: pd.Series) -> pd.Categorical:
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        categorical: pd.Categorical = column.array
        return categorical
    return pd.Categorical(column.astype(object))


def safe_for_sums(values: np.ndarray, terms: int) -> np.ndarray:
    """`values` as an array whose sums of up to `terms` elements are exact (object ints if int64 could overflow)."""
    import numpy as np

    if values.dtype == object or not len(values):
        return values
    if int(np.abs(values).max()) < INT64_SAFE // max(terms, 1):
        return values
    return values.astype(object)


def check_range(name: str, values: np.ndarray, series: np.ndarray) -> None:
    """GoldFailed if a value does not fit the gold decimal type (`DECIMAL_TYPE`), naming its series."""
    import numpy as np

    if not len(values) or (values.dtype != object and LIMIT > 2**63):
        return
    too_big = np.abs(values) >= LIMIT
    if np.any(too_big):
        i = int(np.flatnonzero(too_big)[0])
        raise GoldFailed(f"series {series[i]}: {name} {values[i]} (x10^-{VALUE_SCALE}) does not fit "
                         f"DECIMAL({VALUE_PRECISION},{VALUE_SCALE})")


def decimal_column(values: np.ndarray, present: np.ndarray | None = None) -> Any:
    """A gold decimal column from unscaled integers (`present` False → NULL), as the Parquet writer takes it:
    a nullable Int64 array, or Python ints and None where a value is wider than int64."""
    import numpy as np
    import pandas as pd

    mask = np.zeros(len(values), dtype=bool) if present is None else ~np.asarray(present, dtype=bool)
    data = np.asarray(values)
    if data.dtype != object:
        return pd.arrays.IntegerArray(data.astype(np.int64), mask)
    cells = data.copy()
    cells[mask] = None
    return pd.Series(cells, dtype=object)


def text_column(values: Any) -> pd.Series:
    """A gold text column (Python strings and None) as the Parquet writer takes it."""
    import pandas as pd

    return pd.Series(list(values), dtype=object)

def half_even_mean(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """`sums / counts` rounded half-even to an integer (the value scale), exactly; counts > 0."""
    import numpy as np

    quotient = sums // counts
    remainder = sums - quotient * counts  # 0 <= remainder < counts
    twice = remainder * 2
    up = (twice > counts) | ((twice == counts) & (quotient % 2 != 0))
    result: np.ndarray = quotient + up.astype(np.int64)
    return result
