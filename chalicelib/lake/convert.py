"""Bronze → silver row groups: a BLS data file, a series file, the population (see docs/lake.md).

- Data files stream through `chalicelib.bls.data_file.BlsDataReader` (the reports' parser,
  with footnotes kept) and come out as row groups of about `ROW_GROUP_ROWS` rows: memory is a
  few parser blocks plus one row group, whatever the file size.
- A file must parse completely: a malformed line (wrong field count, NUL or non-UTF-8 bytes,
  empty or over-long period, ...), a value that is not a number, one with more than
  `VALUE_SCALE` decimals or more than `VALUE_PRECISION - VALUE_SCALE` digits before the point,
  or a (series_id, year, period) key seen twice raises `ConversionError` naming the lines (the
  caller then publishes nothing, so the previous partition stays).
- `value` is exact: the parser keeps each row's own digits (no block-level scale) and they are
  written as DECIMAL(`VALUE_PRECISION`, `VALUE_SCALE`) in Parquet (a FIXED_LEN_BYTE_ARRAY of
  big-endian two's complement, `parquet.decimal_bytes`); no float is ever involved.
- Parsing (threads) and writing run side by side: the next row group is parsed while the
  previous one is encoded and compressed (`core.prefetch.prefetched`).
- Series files (columns differ by survey) become typed common columns + the others as a
  JSON object in `codes`; nothing is dropped, every text is trimmed; read strictly by
  `chalicelib.bls.series_file.series_chunks` (field counts, headers, lengths, UTF-8).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from chalicelib.bls.data_file import Block, BlsDataReader
from chalicelib.bls.periods import period_name
from chalicelib.bls.series_file import SeriesChunk, four_digit_years, series_chunks
from chalicelib.core.errors import SourceError
from chalicelib.core.prefetch import prefetched
from chalicelib.lake.parquet import Decimal, decimal_bytes, timestamps
from chalicelib.lake.tables import BLS_SERIES, COLUMNS, VALUE_PRECISION, VALUE_SCALE

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

VALUE_DECIMAL = Decimal(VALUE_PRECISION, VALUE_SCALE)
DATA_DECIMALS = {"value": VALUE_DECIMAL}
DATA_STATISTICS = ("series_id", "year", "period")  # min/max per row group: what readers filter on
SERIES_STATISTICS = ("series_id", "begin_year", "end_year")
MAX_CODES_JSON = 400_000  # bytes of one `codes` text: below fastparquet's fixed 500 kB buffers
ROW_GROUP_ROWS = 500_000
# Typed columns of bls_series; every other column of a series file goes into `codes`.
SERIES_COLUMNS = tuple(name for name, _ in COLUMNS[BLS_SERIES] if name != "codes")
SERIES_YEARS = ("begin_year", "end_year")


class ConversionError(SourceError):
    """The source file did not parse completely; nothing of it may be published."""


class OutOfOrder(Exception):  # noqa: N818 - a signal, not an error: convert again with keep_keys=True
    """A data file's series are not in (year, period) order: its keys must all be kept to find duplicates."""


def data_row_groups(stream: IO[bytes], source: str, *, row_group_rows: int = ROW_GROUP_ROWS,
                    block_size: int | None = None, keep_keys: bool = False,
                    vintage: datetime | None = None) -> Iterator[pd.DataFrame]:
    """The data file as DataFrames (series_id, year, period, value, footnote_codes, vintage); see module doc.

    `value` holds `parquet.decimal_bytes` (FIXED_LEN_BYTE_ARRAY cells of DECIMAL(VALUE_PRECISION,
    VALUE_SCALE)). Yields at least one (possibly empty) frame; raises ConversionError at the first
    bad block. The frames are made in a thread one ahead of the consumer (`core.prefetch.prefetched`).
    Duplicate keys: see `_UniqueKeys`; `OutOfOrder` means "convert again with keep_keys=True".
    `vintage` (the version's, `revisions.stamp_version`; None: unknown) fills the `vintage` column.
    """
    return prefetched(_data_frames(stream, source, row_group_rows, block_size, keep_keys, vintage))


def _data_frames(stream: IO[bytes], source: str, row_group_rows: int, block_size: int | None,
                 keep_keys: bool, vintage: datetime | None) -> Iterator[pd.DataFrame]:
    options = {"block_size": block_size} if block_size else {}
    reader = BlsDataReader(stream, source=source, footnotes=True, exact=True, **options)
    keys = _UniqueKeys(source, reader.series_names, keep_keys)
    pending: list[Block] = []
    rows = 0
    produced = False
    for block in reader:
        _check(reader, source)
        keys.add(block)
        pending.append(block)
        rows += len(block)
        if rows >= row_group_rows:
            yield _frame(reader, pending, vintage)
            produced, pending, rows = True, [], 0
    _check(reader, source)
    keys.finish()
    if pending or not produced:
        yield _frame(reader, pending, vintage)


def _check(reader: BlsDataReader, source: str) -> None:
    """Raise ConversionError if the reader met bad lines or values so far."""
    stats = reader.stats
    problems = []
    if stats.malformed_lines:
        problems += [f"line {s['line']}: {s['reason']}: {s['text']!r}" for s in stats.malformed_line_samples]
    if stats.invalid_values:
        problems += [f"line {s['line']}: value {s['value']!r} {_value_problem(str(s['value']))}"
                     for s in stats.invalid_value_samples]
    if problems:
        count = stats.malformed_lines + stats.invalid_values
        raise ConversionError(f"{source}: {count} bad line(s) so far, e.g. " + "; ".join(problems))


def _value_problem(text: str) -> str:
    whole, dot, decimals = text.strip().lstrip("+-").partition(".")
    if dot and decimals.isdigit() and len(decimals) > VALUE_SCALE and (not whole or whole.isdigit()):
        return f"has {len(decimals)} decimals; the silver layer keeps at most {VALUE_SCALE}"
    return (f"is not a decimal number of at most {VALUE_PRECISION - VALUE_SCALE} digits before the point "
            f"and {VALUE_SCALE} after")


class _UniqueKeys:
    """Refuses a (series_id, year, period) key seen twice in a data file, in small memory.

    BLS data files list each series' lines in increasing (year, period) order (periods compared
    as text: M01 < M02 < ... < M13). Each series' last key is kept (12 bytes a series); a line
    whose key equals its series' previous one is a duplicate. A smaller one (a file out of that
    order) raises `OutOfOrder`: the file is then converted again with `keep_keys`, keeping every
    row's key (8 bytes a row) and sorting them at the end.
    """

    def __init__(self, source: str, names: list[str], keep_keys: bool = False) -> None:
        import numpy as np

        self.source = source
        self.names = names  # the reader's series names, filled as it reads
        self.last_year = np.empty(0, np.int64)
        self.last_period = np.empty(0, np.uint64)
        self.kept: list[Any] | None = [] if keep_keys else None
        self.periods: dict[int, int] = {}

    def _duplicate(self, key: str, where: str) -> ConversionError:
        return ConversionError(f"{self.source}: duplicate (series_id, year, period) key {key}{where}; "
                               "each key may appear once")

    def finish(self) -> None:
        """With keep_keys: ConversionError naming a key seen twice."""
        import numpy as np

        if self.kept is None or not self.kept:
            return
        keys = np.sort(np.concatenate(self.kept))
        twice = np.flatnonzero(keys[1:] == keys[:-1])
        if len(twice):
            key = int(keys[twice[0]])
            names = {v: k for k, v in self.periods.items()}
            raise self._duplicate(f"({self.names[key >> 30]}, {(key >> 16) & 0x3FFF}, "
                                  f"{period_name(names[key & 0xFFFF])})", f" ({len(twice)} in all)")

    def _packed(self, block: Block) -> Any:
        """Each row's key as one int64: series number, year (14 bits), period number (16 bits)."""
        import numpy as np

        unique, inverse = np.unique(block.period, return_inverse=True)
        ids = np.array([self.periods.setdefault(int(code), len(self.periods)) for code in unique.tolist()], np.int64)
        if len(self.periods) >= 1 << 16:
            raise ConversionError(f"{self.source}: more than 65,535 distinct periods: not a BLS data file")
        series = block.series.astype(np.int64)
        return (series << 30) | (block.year.astype(np.int64) << 16) | ids[inverse.reshape(-1)]

    def add(self, block: Block) -> None:
        import numpy as np

        if not len(block):
            return
        if self.kept is not None:
            self.kept.append(self._packed(block))
            return
        grow = len(self.names) - len(self.last_year)
        if grow > 0:
            self.last_year = np.concatenate([self.last_year, np.full(grow, -1, np.int64)])
            self.last_period = np.concatenate([self.last_period, np.zeros(grow, np.uint64)])
        series, year, period = block.series, block.year.astype(np.int64), block.period.byteswap()
        rows = np.arange(len(series))
        if (series[1:] < series[:-1]).any():  # series interleaved in this block: group them, keeping order
            rows = np.argsort(series, kind="stable")
            series, year, period = series[rows], year[rows], period[rows]
        first = np.ones(len(series), dtype=bool)
        first[1:] = series[1:] != series[:-1]
        previous_year = np.concatenate([[0], year[:-1]])
        previous_period = np.concatenate([np.zeros(1, np.uint64), period[:-1]])
        previous_year[first] = self.last_year[series[first]]
        previous_period[first] = self.last_period[series[first]]
        later = (year > previous_year) | ((year == previous_year) & (period > previous_period))
        if not later.all():
            i = int(np.flatnonzero(~later)[0])
            key = (f"({self.names[int(series[i])]}, {int(year[i])}, "
                   f"{period_name(int(np.uint64(period[i]).byteswap()))})")
            if year[i] == previous_year[i] and period[i] == previous_period[i]:
                raise self._duplicate(key, f" near line {block.first_line + int(rows[i])}")
            raise OutOfOrder(key)
        last = np.ones(len(series), dtype=bool)
        last[:-1] = series[1:] != series[:-1]
        self.last_year[series[last]] = year[last]
        self.last_period[series[last]] = period[last]


def _frame(reader: BlsDataReader, blocks: list[Block], vintage: datetime | None) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    def joined(name: str, dtype: Any) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in blocks]) if blocks else np.empty(0, dtype)

    return pd.DataFrame({
        "series_id": _series(joined("series", np.int32), reader.series_names),
        "year": joined("year", np.int32),
        "period": _categorical(joined("period", np.uint64), period_name),
        "value": decimal_bytes(joined("whole", np.int64), joined("fraction", np.int64), VALUE_DECIMAL),
        "footnote_codes": _footnotes(blocks),
        "vintage": timestamps(vintage, sum(len(b) for b in blocks)),
    })


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

    Read strictly by `chalicelib.bls.series_file.series_chunks` (quotes are text: BLS titles contain `"`).
    """
    try:
        for chunk in series_chunks(stream, source, chunk_rows=row_group_rows):
            yield _series_frame(chunk, source)
    except ConversionError:
        raise
    except SourceError as error:
        raise ConversionError(str(error)) from None


def _series_frame(chunk: SeriesChunk, source: str) -> pd.DataFrame:
    import pandas as pd

    lowered = [name.lower() for name in chunk.columns]
    position = {name: lowered.index(name) for name in SERIES_COLUMNS if name in lowered}
    others = [(name, i) for i, name in enumerate(chunk.columns) if lowered[i] not in SERIES_COLUMNS]
    out: dict[str, Any] = {}
    for name in SERIES_COLUMNS:
        j = position.get(name)
        out[name] = [None] * len(chunk.rows) if j is None else [row[j] or None for row in chunk.rows]
    for name in SERIES_YEARS:
        out[name] = pd.array(four_digit_years(out[name], name, chunk.lines, source), dtype="Int32")
    codes = []
    for row, line in zip(chunk.rows, chunk.lines):
        text = json.dumps({name: row[i] for name, i in others}, ensure_ascii=False, separators=(",", ":"))
        if len(text) > MAX_CODES_JSON:
            raise ConversionError(f"{source}: line {line}: the other columns make {len(text)} characters of codes; "
                                  f"at most {MAX_CODES_JSON}")
        codes.append(text)
    out["codes"] = codes
    frame = pd.DataFrame(out)
    for name in (*SERIES_COLUMNS, "codes"):
        if name not in SERIES_YEARS:
            frame[name] = frame[name].astype(object)
    return frame
