"""Write one Parquet file from a stream of pandas row groups, with fastparquet (see docs/lake.md).

fastparquet (+ cramjam for the codecs) is the writer because it fits the Lambda package
beside pandas and numpy (~13 MiB; pyarrow is ~164 MiB and does not). It writes flat
schemas only; the types used here are the ones Athena/Hive, DuckDB and pyarrow all read:
string (UTF8 BYTE_ARRAY, dictionary-encoded from pandas categoricals), int32, int64, and
exact decimals as FIXED_LEN_BYTE_ARRAY cells of big-endian two's complement (the unscaled
integer) with the DECIMAL(precision, scale) annotation — fastparquet has no decimal writer of
its own (its "decimal" is a double), so `decimal_bytes` makes the cells and the schema element
is annotated here. Column statistics (min/max) are written only for the columns named in
`statistics`: fastparquet serialises them into a fixed 500 kB buffer without a bounds check
(a long text there aborts the process), and its min/max of byte cells would compare them
unsigned.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

COMPRESSION = "ZSTD"
_DECIMAL_CONVERTED_TYPE = 5  # parquet_thrift.ConvertedType.DECIMAL (the format's fixed number)


@dataclass(frozen=True)
class Decimal:
    """A DECIMAL(precision, scale) column of `width` byte cells (`decimal_bytes`)."""

    precision: int
    scale: int

    @property
    def width(self) -> int:
        """Bytes per cell: the fewest whose two's complement holds every value of the precision."""
        return next(n for n in range(1, 17) if 2 ** (8 * n - 1) > 10**self.precision)


def timestamps(moment: datetime | None, rows: int) -> np.ndarray:
    """A TIMESTAMP column of `rows` times `moment` (UTC, microseconds; None: NULL)."""
    import numpy as np

    stamp = np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "us") if moment else np.datetime64("NaT", "us")
    return np.full(rows, stamp, dtype="datetime64[us]")


def decimal_bytes(whole: np.ndarray, fraction: np.ndarray, decimal: Decimal) -> np.ndarray:
    """The cells of `whole + fraction / 10**scale` (int64 arrays, same signs; |whole| < 10**18,
    |fraction| < 10**scale): big-endian two's complement of the unscaled integer, as an `S<width>`
    array (a FIXED_LEN_BYTE_ARRAY column). 128-bit arithmetic on two uint64 limbs, vectorised."""
    import numpy as np

    if decimal.width > 16 or decimal.scale > 18:
        raise ValueError(f"{decimal}: at most 16 bytes and 18 decimals")
    n = len(whole)
    negative = (whole < 0) | (fraction < 0)
    magnitude = np.abs(whole).astype(np.uint64)
    small = np.abs(fraction).astype(np.uint64)
    low32 = np.uint64(0xFFFFFFFF)
    factor = np.uint64(10**decimal.scale)
    # |whole| * 10**scale + |fraction| = high * 2**32 + low, each product below 2**64
    low = (magnitude & low32) * factor + small
    high = (magnitude >> np.uint64(32)) * factor
    shifted = (high & low32) << np.uint64(32)
    lo = shifted + low
    hi = (high >> np.uint64(32)) + (lo < shifted).astype(np.uint64)
    # two's complement of the negatives: invert both limbs, add one with its carry
    lo_neg = ~lo + np.uint64(1)
    hi_neg = ~hi + (lo_neg == 0).astype(np.uint64)
    lo = np.where(negative, lo_neg, lo)
    hi = np.where(negative, hi_neg, hi)
    cells = np.empty((n, 16), dtype=np.uint8)
    cells[:, :8] = hi.astype(">u8").view(np.uint8).reshape(n, 8)
    cells[:, 8:] = lo.astype(">u8").view(np.uint8).reshape(n, 8)
    # void cells: a DataFrame keeps `V<width>` (it would turn `S<width>` into Python objects)
    return np.ascontiguousarray(cells[:, 16 - decimal.width :]).view(f"V{decimal.width}").reshape(n)


def int_cells(values: np.ndarray, width: int) -> np.ndarray:
    """Big-endian two's-complement cells (`S<width>`) of int64 values, vectorised (`width` bytes must hold them)."""
    import numpy as np

    n = len(values)
    ints = np.asarray(values, dtype=np.int64)
    cells = np.empty((n, max(width, 8)), dtype=np.uint8)
    cells[:, -8:] = ints.astype(">i8").view(np.uint8).reshape(n, 8)
    cells[:, :-8] = np.where(ints < 0, 0xFF, 0).astype(np.uint8)[:, None]
    return np.ascontiguousarray(cells[:, cells.shape[1] - width:]).view(f"S{width}").reshape(n)


def optional_cells(column: pd.Series, width: int) -> np.ndarray:
    """An OPTIONAL decimal column's cells as fastparquet writes them: an object array of the cells' bytes
    (numpy drops their trailing zero bytes; fastparquet pads them back to `width`), None where missing.

    `column`: unscaled integers with missing values (a nullable integer array, or Python ints and
    None). Vectorised while every value fits int64; wider values are encoded one by one.
    """
    import numpy as np

    missing = column.isna().to_numpy()
    present = column[~missing]
    try:
        cells = int_cells(present.to_numpy(dtype=np.int64), width).astype(object)
    except (OverflowError, TypeError, ValueError):
        cells = np.array([int(v).to_bytes(width, "big", signed=True) for v in present], dtype=object)
    out = np.full(len(column), None, dtype=object)
    out[~missing] = cells
    return out


def decimal_ints(cells: np.ndarray) -> list[int]:
    """The unscaled integers of FIXED_LEN_BYTE_ARRAY decimal cells (a (rows, width) uint8 array or an
    `S<width>`/`V<width>` array), exactly."""
    import numpy as np

    matrix = cells if cells.dtype == np.uint8 else cells.view(np.uint8).reshape(len(cells), -1)
    return [int.from_bytes(row, "big", signed=True) for row in map(bytes, matrix)]


def cell_ints(cells: np.ndarray) -> np.ndarray:
    """Unscaled integers of big-endian two's-complement cells (`V<n>`/`S<n>`): int64 when all fit, else objects."""
    import numpy as np

    n = len(cells)
    width = cells.dtype.itemsize
    matrix = np.ascontiguousarray(cells).view(np.uint8).reshape(n, width)
    if width <= 8:
        padded = np.empty((n, 8), np.uint8)
        padded[:, 8 - width:] = matrix
        padded[:, :8 - width] = np.where(matrix[:, :1] & 0x80, 0xFF, 0)
        return padded.view(">i8").reshape(n).astype(np.int64)
    head = matrix[:, :width - 8]
    sign = np.where(matrix[:, width - 8] & 0x80, 0xFF, 0).astype(np.uint8)
    fits = (head == sign[:, None]).all(axis=1)
    low = np.ascontiguousarray(matrix[:, width - 8:]).view(">i8").reshape(n).astype(np.int64)
    if fits.all():
        return low
    out = low.astype(object)
    for i in np.flatnonzero(~fits).tolist():
        out[i] = int.from_bytes(bytes(matrix[i]), "big", signed=True)
    return out


def write_parquet(out: IO[bytes], groups: Iterable[pd.DataFrame], decimals: dict[str, Decimal] | None = None,
                  statistics: Iterable[str] = ()) -> int:
    """Write the row groups (equal columns and dtypes) to `out` as one Parquet file; return the row count.

    The first group fixes the schema; at least one group (possibly empty) must come. Decimal
    columns hold `decimal_bytes` cells (REQUIRED), or unscaled Python ints / a nullable integer
    array with missing values (OPTIONAL: NULL where missing); min/max statistics are written for
    `statistics` only.
    """
    from fastparquet import writer

    groups = iter(groups)
    first = next(groups)
    decimals = decimals or {}
    nullable = {name for name in decimals if first[name].dtype.kind != "V"}
    # fastparquet does not know byte cells: the schema is made with a stand-in, then annotated
    metadata = writer.make_metadata(first.assign(**{name: 0 for name in decimals}), object_encoding="utf8")
    for name, decimal in decimals.items():
        _annotate_decimal(metadata, name, decimal, optional=name in nullable)
    writer.write_simple(out, _plain_cells(metadata, decimals, _non_empty(first, groups, decimals, nullable)),
                        metadata, compression=COMPRESSION, stats=list(statistics))
    return int(metadata.num_rows)


def _plain_cells(metadata: object, decimals: dict[str, Decimal], groups: Iterator[_RowGroup]) -> Iterator[_RowGroup]:
    """The row groups, written while the decimal columns' schema elements carry no converted type
    (fastparquet would turn such cells into floats); the annotation is back before the footer is."""
    elements = [e for e in metadata.schema if e.name in decimals]  # type: ignore[attr-defined]
    for element in elements:
        element.converted_type = None
    try:
        yield from groups
    finally:
        for element in elements:
            element.converted_type = _DECIMAL_CONVERTED_TYPE


def _non_empty(first: pd.DataFrame, rest: Iterator[pd.DataFrame], decimals: dict[str, Decimal],
               nullable: set[str]) -> Iterator[_RowGroup]:
    for group in _chain(first, rest):
        if len(group):
            yield _RowGroup(group, {name: decimals[name] for name in nullable})


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


class _RowGroup:
    """A DataFrame as fastparquet's writer reads it: byte-cell (`V<n>`) columns given as `S<n>`
    Series (PLAIN-encoded as they are: the cells' bytes, one after the other); nullable decimal
    columns as objects, the cells' bytes or None."""

    def __init__(self, frame: pd.DataFrame, nullable: dict[str, Decimal] | None = None) -> None:
        self.frame = frame
        self.columns = frame.columns
        self.nullable = nullable or {}

    def __len__(self) -> int:
        return len(self.frame)

    def __iter__(self) -> Iterator[str]:
        return iter(self.frame.columns)

    def __getitem__(self, name: str) -> pd.Series:
        import pandas as pd

        column = self.frame[name]
        if name in self.nullable:
            return pd.Series(optional_cells(column, self.nullable[name].width), name=name, dtype=object)
        if column.dtype.kind == "V":
            cells = column.to_numpy()
            return pd.Series(cells.view(f"S{cells.dtype.itemsize}"), name=name)
        return column


def _annotate_decimal(metadata: object, name: str, decimal: Decimal, *, optional: bool = False) -> None:
    from fastparquet import parquet_thrift as thrift

    schema = metadata.schema  # type: ignore[attr-defined]
    index = next(i for i, e in enumerate(schema) if e.name == name)
    element = schema[index]
    if not 0 < decimal.width <= 16:
        raise ValueError(f"column {name}: DECIMAL({decimal.precision},{decimal.scale}) is too wide")
    schema[index] = thrift.SchemaElement(
        name=element.name, type=thrift.Type.FIXED_LEN_BYTE_ARRAY, type_length=decimal.width,
        repetition_type=thrift.FieldRepetitionType.OPTIONAL if optional else thrift.FieldRepetitionType.REQUIRED,
        converted_type=_DECIMAL_CONVERTED_TYPE, scale=decimal.scale, precision=decimal.precision,
        logicalType=thrift.LogicalType(DECIMAL=thrift.DecimalType(scale=decimal.scale, precision=decimal.precision,
                                                                   i32=True), i32=True),
        i32=True,
    )
    metadata.schema = schema  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RawDecimal:
    """A DECIMAL column as `open_raw` reads it: its scale, its cell width (None: INT64) and whether it is REQUIRED."""

    scale: int
    width: int | None
    required: bool


def open_raw(source: str | IO[bytes]) -> tuple[Any, dict[str, RawDecimal]]:
    """A fastparquet ParquetFile whose DECIMAL columns read as stored, never as floats (fastparquet's
    own decimal reading), and those columns: INT64 values as integers, REQUIRED FIXED_LEN_BYTE_ARRAY
    cells as `V<width>` (numpy's `S` type would drop their trailing zero bytes; `cell_ints`,
    `decimal_ints`), OPTIONAL ones as bytes or None (`optional_cell_int`). ValueError for a DECIMAL of
    another physical type.
    """
    import numpy as np
    from fastparquet import ParquetFile
    from fastparquet import parquet_thrift as thrift

    parquet = ParquetFile(source)
    found: dict[str, RawDecimal] = {}
    for element in parquet.fmd.schema:
        if element.converted_type != thrift.ConvertedType.DECIMAL:
            continue
        fixed = element.type == thrift.Type.FIXED_LEN_BYTE_ARRAY
        if not fixed and element.type != thrift.Type.INT64:
            raise ValueError(f"column {element.name}: only INT64 and FIXED_LEN_BYTE_ARRAY decimals are read here")
        found[element.name] = RawDecimal(int(element.scale), int(element.type_length) if fixed else None,
                                         element.repetition_type == thrift.FieldRepetitionType.REQUIRED)
        element.converted_type = None
        element.logicalType = None
    if found:
        parquet._base_dtype = None  # the implied column types again, from the plain schema
        parquet._set_attrs()
        parquet._base_dtype.update({name: np.dtype(f"V{column.width}") for name, column in found.items()
                                    if column.width and column.required})
    return parquet, found


def optional_cell_int(cell: object, width: int) -> int | None:
    """One cell of an OPTIONAL decimal column as fastparquet reads it (bytes without their trailing
    zero bytes, or None) as its unscaled integer."""
    if cell is None or (isinstance(cell, float) and cell != cell):
        return None
    return int.from_bytes(bytes(cell).ljust(width, b"\0"), "big", signed=True)  # type: ignore[call-overload]
