"""Bronze → silver row groups: a BLS data file, a series file, the population (see docs/lake.md).

- Data files stream through `chalicelib.bls.data_file.BlsDataReader` (the reports' parser,
  with footnotes kept) and come out as row groups of about `ROW_GROUP_ROWS` rows: memory is a
  few parser blocks plus one row group, whatever the file size.
- A file must parse completely: a malformed line, a value that is not a number or one with
  more than `VALUE_SCALE` decimals raises `ConversionError` naming the first lines (the
  caller then publishes nothing, so the previous partition stays).
- `value` is exact: the parser's fixed-point int64 is brought to scale `VALUE_SCALE`
  (DECIMAL(`VALUE_PRECISION`, `VALUE_SCALE`) in Parquet); no float is ever involved.
- Series files (columns differ by survey) become typed common columns + the others as a
  JSON object in `codes`; nothing is dropped, every text is trimmed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from chalicelib.bls.data_file import BlsDataReader
from chalicelib.bls.periods import period_name
from chalicelib.bls.series_file import check_series_ids, four_digit_years, series_chunks
from chalicelib.core.errors import SourceError
from chalicelib.lake.parquet import Decimal
from chalicelib.lake.tables import BLS_SERIES, COLUMNS, VALUE_PRECISION, VALUE_SCALE

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DATA_DECIMALS = {"value": Decimal(VALUE_PRECISION, VALUE_SCALE)}
ROW_GROUP_ROWS = 1_000_000
# Typed columns of bls_series; every other column of a series file goes into `codes`.
SERIES_COLUMNS = tuple(name for name, _ in COLUMNS[BLS_SERIES] if name != "codes")
SERIES_YEARS = ("begin_year", "end_year")


class ConversionError(SourceError):
    """The source file did not parse completely; nothing of it may be published."""


def data_row_groups(stream: IO[bytes], source: str, *, row_group_rows: int = ROW_GROUP_ROWS,
                    block_size: int | None = None) -> Iterator[pd.DataFrame]:
    """The data file as DataFrames (series_id, year, period, value, footnote_codes); see module doc.

    Yields at least one (possibly empty) frame; raises ConversionError at the first bad block.
    """
    options = {"block_size": block_size} if block_size else {}
    reader = BlsDataReader(stream, source=source, footnotes=True, **options)
    pending: list[Any] = []
    rows = 0
    produced = False
    for block in reader:
        _check(reader, block, source)
        pending.append(block)
        rows += len(block)
        if rows >= row_group_rows:
            yield _frame(reader, pending)
            produced, pending, rows = True, [], 0
    _check(reader, None, source)
    if pending or not produced:
        yield _frame(reader, pending)


def _check(reader: BlsDataReader, block: Any, source: str) -> None:
    """Raise ConversionError if the reader met bad lines so far, or the block is too precise."""
    stats = reader.stats
    problems = []
    if stats.malformed_lines:
        problems += [f"line {s['line']}: {s['reason']}: {s['text']!r}" for s in stats.malformed_line_samples]
    if stats.invalid_values:
        problems += [f"line {s['line']}: value {s['value']!r} is not a number of at most 15 digits"
                     for s in stats.invalid_value_samples]
    if problems:
        count = stats.malformed_lines + stats.invalid_values
        raise ConversionError(f"{source}: {count} bad line(s) so far, e.g. " + "; ".join(problems))
    if block is not None and block.scale > VALUE_SCALE:
        raise ConversionError(f"{source}: lines {block.first_line}-{block.first_line + len(block) - 1} have "
                              f"values with {block.scale} decimals; the silver layer keeps at most {VALUE_SCALE}")


def _frame(reader: BlsDataReader, blocks: list[Any]) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    def joined(name: str, dtype: Any) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in blocks]) if blocks else np.empty(0, dtype)

    values = [_rescale(b.value, b.scale, reader.source, b.first_line) for b in blocks]
    return pd.DataFrame({
        "series_id": _series(joined("series", np.int32), reader.series_names),
        "year": joined("year", np.int32),
        "period": _categorical(joined("period", np.uint64), period_name),
        "value": np.concatenate(values) if values else np.empty(0, np.int64),
        "footnote_codes": _footnotes(blocks),
    })


def _rescale(value: np.ndarray, scale: int, source: str, first_line: int) -> np.ndarray:
    import numpy as np

    factor = 10 ** (VALUE_SCALE - scale)
    limit = 10**VALUE_PRECISION // factor
    if len(value) and int(np.abs(value).max()) >= limit:
        raise ConversionError(f"{source}: a value near line {first_line} has more than "
                              f"{VALUE_PRECISION - VALUE_SCALE} digits before the decimal point")
    return value * np.int64(factor)


def _series(codes: np.ndarray, names: list[str]) -> pd.Categorical:
    """Series ids as a categorical (a Parquet dictionary) over the range of series numbers in the group.

    The reader numbers series in order of first appearance, so a row group of a sorted file
    holds a contiguous range: no sort, no hashing.
    """
    import numpy as np
    import pandas as pd

    low = int(codes.min()) if len(codes) else 0
    high = int(codes.max()) + 1 if len(codes) else 0
    return pd.Categorical.from_codes((codes - low).astype(np.int32), pd.Index(names[low:high], dtype=object),
                                     validate=False)


def _categorical(keys: np.ndarray, name: Any) -> pd.Categorical:
    """A categorical of integer keys whose categories are `name(key)` (few distinct keys: hashed)."""
    import numpy as np
    import pandas as pd

    codes, unique = pd.factorize(keys, sort=True)
    return pd.Categorical.from_codes(codes.astype(np.int32), pd.Index([name(k) for k in unique.tolist()], dtype=object),
                                     validate=False)


def _footnotes(blocks: list[Any]) -> pd.Categorical:
    """Trimmed footnote codes; None (null) where blank or where the file has no such column."""
    import numpy as np
    import pandas as pd

    if not blocks or blocks[0].footnotes is None:
        return pd.Categorical.from_codes(np.full(sum(len(b) for b in blocks), -1, np.int32), pd.Index([], dtype=object))
    width = max(b.footnotes.shape[1] for b in blocks)
    words = -(-width // 8) * 8  # whole 8-byte words: short texts become one integer each
    texts = np.concatenate([np.pad(b.footnotes, ((0, 0), (0, words - b.footnotes.shape[1]))) for b in blocks])
    keys = np.ascontiguousarray(texts).view("<u8")[:, 0] if words == 8 else texts.view(f"S{words}")[:, 0]
    codes, unique = pd.factorize(keys, sort=True)
    texts_found = [int(u).to_bytes(8, "little") for u in unique.tolist()] if words == 8 else list(unique)
    names = [bytes(u).rstrip(b"\0").decode("utf-8", "replace").strip() for u in texts_found]
    kept = sorted({n for n in names if n})
    position = {n: i for i, n in enumerate(kept)}
    mapping = np.array([position.get(n, -1) for n in names] or [-1], dtype=np.int32)
    return pd.Categorical.from_codes(mapping[codes], pd.Index(kept, dtype=object), validate=False)


# --------------------------------------------------------------------------- series files


def series_row_groups(stream: IO[bytes], source: str, *, row_group_rows: int = 200_000) -> Iterator[pd.DataFrame]:
    """The series file as DataFrames with `SERIES_COLUMNS` + `codes` (JSON text of the other columns).

    Read by `chalicelib.bls.series_file` (quotes are text: BLS titles contain `"`).
    """
    try:
        for chunk, header_line in series_chunks(stream, source, chunk_rows=row_group_rows):
            yield _series_frame(chunk, source, header_line)
    except ConversionError:
        raise
    except SourceError as error:
        raise ConversionError(str(error)) from None


def _series_frame(chunk: pd.DataFrame, source: str, header_line: int) -> pd.DataFrame:
    import pandas as pd

    others = [c for c in chunk.columns if c not in SERIES_COLUMNS]
    out = pd.DataFrame({name: _text_or_null(chunk, name) for name in SERIES_COLUMNS})
    for name in SERIES_YEARS:
        out[name] = four_digit_years(out[name], source, header_line)
    codes = chunk[others].to_dict("records") if others else [{}] * len(chunk)
    out["codes"] = pd.Series([json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in codes],
                             dtype=object, index=chunk.index)
    check_series_ids(out["series_id"], source, header_line)
    return out.reset_index(drop=True)


def _text_or_null(chunk: pd.DataFrame, name: str) -> pd.Series:
    import pandas as pd

    if name not in chunk.columns:
        return pd.Series([None] * len(chunk), dtype=object, index=chunk.index)
    column = chunk[name].astype(object)
    return column.where(column != "", None)
