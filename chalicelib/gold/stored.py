"""Gold and silver Parquet as the explorer reads it — the one place that knows how values are stored.

Decimal columns come back as their raw scaled integers (`read_parquet`) and become exact text in one
place (`decimal_text_of`): if the silver/gold value type widens, only these helpers change.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from chalicelib.bls.decimals import decimal_text
from chalicelib.core.store import Store
from chalicelib.lake.parquet import decimal_ints, open_raw, optional_cell_int

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

    The values are read as stored (`lake.parquet.open_raw`), so they come back exact.
    """
    import pandas as pd

    parquet, decimals = open_raw(source)
    present = [c for c in columns if c in parquet.columns]
    filters = [("series_id", "==", series_id)] if series_id is not None else None
    frame = parquet.to_pandas(columns=present, filters=filters)  # row groups by their statistics
    cells = {name: column for name, column in decimals.items() if column.width and name in frame.columns}
    for name in (name for name, column in cells.items() if column.required):  # before rows are taken
        frame[name] = decimal_ints(frame[name].to_numpy())
    if series_id is not None:
        frame = frame[frame["series_id"] == series_id]
    for name, column in cells.items():
        if not column.required:  # optional cells: bytes or None
            frame[name] = pd.Series([None if missing(v) else optional_cell_int(v, column.width or 0)
                                     for v in frame[name]], index=frame.index, dtype=object)
    return frame, {name: column.scale for name, column in decimals.items()}


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
