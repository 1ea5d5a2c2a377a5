"""Gold and silver Parquet as the explorer reads it — the one place that knows how values are stored.

Decimal columns come back as their raw scaled integers (`read_parquet`) and become exact text in one
place (`decimal_text_of`): if the silver/gold value type widens, only these helpers change.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from chalicelib.bls.decimals import decimal_text
from chalicelib.core.store import Store
from chalicelib.lake.parquet import decimal_ints

if TYPE_CHECKING:
    import pandas as pd


def decimal_text_of(scaled: Any, scale: int) -> str | None:
    """Exact text of a raw scaled decimal as `read_parquet` returns it (None for a missing value)."""
    if missing(scaled):
        return None
    return decimal_text(int(scaled), scale)


def read_parquet(source: str | IO[bytes], columns: list[str], series_id: str | None = None
                 ) -> tuple[pd.DataFrame, dict[str, int]]:
    """The columns of a Parquet file (only `series_id`'s rows when given), decimal columns as their raw
    scaled integers (nullable Int64 where the column is optional), and each decimal column's scale.

    fastparquet would turn an INT64 DECIMAL into a float (and an optional one into truncated integers):
    the annotation is dropped from the schema before reading, so the stored integers come back exact.
    """
    import pandas as pd
    from fastparquet import ParquetFile
    from fastparquet import parquet_thrift as thrift

    parquet = ParquetFile(source)
    scales, cells, widths = {}, [], {}
    for element in parquet.fmd.schema:
        if element.converted_type == thrift.ConvertedType.DECIMAL:
            if element.type not in (thrift.Type.INT64, thrift.Type.FIXED_LEN_BYTE_ARRAY):
                raise ValueError(f"column {element.name}: only INT64 and FIXED_LEN_BYTE_ARRAY decimals are read here")
            if element.type == thrift.Type.FIXED_LEN_BYTE_ARRAY:
                cells.append(element.name)
                if element.repetition_type == thrift.FieldRepetitionType.REQUIRED:
                    widths[element.name] = int(element.type_length)
            scales[element.name] = int(element.scale)
            element.converted_type = None
            element.logicalType = None
    if scales:
        parquet._base_dtype = None
        parquet._set_attrs()
    present = [c for c in columns if c in parquet.columns]
    filters = [("series_id", "==", series_id)] if series_id is not None else None
    # Required cells as void bytes: numpy's `S` type would drop their trailing zero bytes.
    dtypes = {**parquet.dtypes, **{name: f"V{width}" for name, width in widths.items()}}
    frame = parquet.to_pandas(columns=present, filters=filters, dtypes=dtypes)  # row groups by their statistics
    for name in (c for c in widths if c in frame.columns):
        frame[name] = decimal_ints(frame[name].to_numpy())
    if series_id is not None:
        frame = frame[frame["series_id"] == series_id]
    for name in (c for c in cells if c in frame.columns and c not in widths):  # optional cells: bytes or None
        width = parquet.schema.root.children[name].type_length
        frame[name] = pd.Series([None if missing(v) else _cell_int(bytes(v), width) for v in frame[name]],
                                index=frame.index, dtype=object)
    return frame, scales


def _cell_int(cell: bytes, width: int) -> int:
    """A big-endian two's complement cell as read back (fastparquet drops its trailing zero bytes)."""
    return int.from_bytes(cell.ljust(width, b"\0"), "big", signed=True)


def column_values(frame: pd.DataFrame, name: str) -> list[Any]:
    """A column as Python values, None for missing ones (or all None when the file lacks the column)."""
    if name not in frame.columns:
        return [None] * len(frame)
    column = frame[name].astype(object)
    return column.where(column.notna(), None).tolist()


def missing(value: Any) -> bool:
    """None, NaN or pandas' NA (recognised without importing pandas at import time)."""
    return value is None or (isinstance(value, float) and value != value) or type(value).__name__ == "NAType"


def count_rows(store: Store, key: str) -> int:
    from fastparquet import ParquetFile

    with store.open(key) as stream:
        return int(ParquetFile(seekable(stream)).count())


def seekable(stream: IO[bytes]) -> IO[bytes]:
    import io

    return io.BytesIO(stream.read())
