"""The diff of two versions of a `bls_data` partition (`chalicelib.lake.revisions` publishes it).

A sort-merge over both Parquet files, one row group at a time per side, comparing the values as
stored (the decimal cells' bytes, or scaled integers where the two files encode them differently;
never floats); a file that is not sorted by (series_id, year, period) falls back to hashed passes.
Values are read and written only through the small helpers of the first section.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.core.errors import PipelineError
from chalicelib.core.log import log_event
from chalicelib.core.prefetch import prefetched
from chalicelib.lake import tables
from chalicelib.lake.parquet import Decimal, cell_ints, open_raw, timestamps, write_parquet

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

KEY_COLUMNS = ("series_id", "year", "period")
LARGEST = 5  # revisions listed in a release summary
MIN_BUFFER_ROWS = 250_000  # rows read ahead per side before a merge step
BUCKETS_ROWS = 2_000_000  # rows per hashed pass when a file is not sorted
REVISED, ADDED, REMOVED = "revised", "added", "removed"
CHANGES = (REVISED, ADDED, REMOVED)


class UnsortedInput(PipelineError):
    """A partition is not in (series_id, year, period) order: the sort-merge cannot be used."""




# --------------------------------------------------------------------------- values (isolated)
# The silver value column is read as stored (FIXED_LEN_BYTE_ARRAY cells of DECIMAL(24,6) today; INT64 in
# partitions written before issue 19) and written back as scaled integers; only these functions know that.

VALUE_DECIMALS = {name: Decimal(tables.VALUE_PRECISION, tables.VALUE_SCALE) for name in ("previous_value", "value")}
VALUE_WIDTH = Decimal(tables.VALUE_PRECISION, tables.VALUE_SCALE).width  # bytes of one value cell


def _values(column: Any) -> np.ndarray:
    """A row group's value column as stored: FIXED_LEN_BYTE_ARRAY cells (`V<n>`) or INT64 scaled integers.

    Cells are compared as they are (equal bytes, equal values: one encoding per file) and made into
    integers (`_ints`) only for the rows that differ — most rows of a release are unchanged.
    """
    import numpy as np

    raw = column.to_numpy()
    return raw if raw.dtype.kind == "V" else np.asarray(raw, dtype=np.int64)


def _ints(values: np.ndarray) -> np.ndarray:
    """Stored values (`_values`) as scaled integers: int64, or Python ints where wider."""
    import numpy as np

    return cell_ints(values) if values.dtype.kind == "V" else np.asarray(values, dtype=np.int64)


def _comparable(old: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sides in one representation: as stored when the files encode values alike, else integers
    (a previous partition written before the value type widened)."""
    return (old, new) if old.dtype == new.dtype else (_ints(old), _ints(new))


def _value_column(raw: np.ndarray, present: np.ndarray) -> Any:
    """Scaled integers (and where they exist) as a column `write_parquet` stores as the value type."""
    import numpy as np
    import pandas as pd

    if raw.dtype != object:
        return pd.arrays.IntegerArray(np.asarray(raw, dtype=np.int64), ~np.asarray(present, dtype=bool))
    cells = raw.copy()
    cells[~np.asarray(present, dtype=bool)] = None
    return pd.Series(cells, dtype=object)


def value_text(raw: int) -> str:
    """The exact decimal text of a scaled integer."""
    sign, digits = ("-" if raw < 0 else ""), str(abs(raw)).rjust(tables.VALUE_SCALE + 1, "0")
    whole, fraction = digits[:-tables.VALUE_SCALE], digits[-tables.VALUE_SCALE:].rstrip("0")
    return f"{sign}{whole}{'.' + fraction if fraction else ''}"


# --------------------------------------------------------------------------- reading partitions


@dataclass
class _Part:
    """Rows of one side, categorical texts as (categories, codes); `year`, `value` as numpy arrays."""

    series: tuple[np.ndarray, np.ndarray]
    year: np.ndarray
    period: tuple[np.ndarray, np.ndarray]
    value: np.ndarray
    footnote: tuple[np.ndarray, np.ndarray]

    def __len__(self) -> int:
        return len(self.year)


def _codes(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """(categories as an object array of str, int64 codes; -1 = null) of a text column."""
    import numpy as np
    import pandas as pd

    if not isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype("category")
    categories = np.asarray(column.cat.categories, dtype=object)
    return categories, np.asarray(column.cat.codes, dtype=np.int64)


def _parts(path: Path | None) -> Iterator[_Part]:
    """The partition's rows, one row group at a time (nothing for no file)."""
    import numpy as np

    if path is None:
        return
    reader, _ = open_raw(str(path))
    for frame in reader.iter_row_groups(columns=["series_id", "year", "period", "value", "footnote_codes"]):
        if len(frame):
            yield _Part(_codes(frame["series_id"]), np.asarray(frame["year"], dtype=np.int64),
                        _codes(frame["period"]), _values(frame["value"]), _codes(frame["footnote_codes"]))


# --------------------------------------------------------------------------- the diff


@dataclass
class Summary:
    """What a release changed: counts, and the largest revisions by absolute change."""

    revised: int = 0
    added: int = 0
    removed: int = 0
    largest: list[tuple[int, int, str, int, str, int, int]] = field(default_factory=list)  # heap
    _serial: int = 0

    def offer(self, sizes: np.ndarray, series: np.ndarray, years: np.ndarray, periods: np.ndarray,
              old: np.ndarray, new: np.ndarray) -> None:
        import numpy as np

        if not len(sizes):
            return
        top = np.argsort(-sizes, kind="stable")[:LARGEST]
        for i in top.tolist():
            self._serial += 1
            entry = (int(sizes[i]), -self._serial, str(series[i]), int(years[i]), str(periods[i]),
                     int(old[i]), int(new[i]))
            if len(self.largest) < LARGEST:
                heapq.heappush(self.largest, entry)
            else:
                heapq.heappushpop(self.largest, entry)

    def to_dict(self) -> dict[str, Any]:
        ranked = sorted(self.largest, reverse=True)
        return {"revised": self.revised, "added": self.added, "removed": self.removed,
                "largest": [{"series_id": s, "year": y, "period": p, "previous_value": value_text(o),
                             "value": value_text(n), "difference": value_text(n - o)}
                            for _, _, s, y, p, o, n in ranked]}


@dataclass
class _Side:
    parts: Iterator[_Part]
    buffer: list[_Part] = field(default_factory=list)
    done: bool = False
    last: tuple[str, int, str] | None = None

    def rows(self) -> int:
        return sum(len(p) for p in self.buffer)

    def fill(self) -> None:
        while not self.done and self.rows() < MIN_BUFFER_ROWS:
            part = next(self.parts, None)
            if part is None:
                self.done = True
            else:
                self.buffer.append(part)


def _vocabulary(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """A sorted vocabulary of every category, and each part's codes as ranks in it (-1 stays -1)."""
    import numpy as np

    cats = [c for c, _ in pairs]
    vocab = np.unique(np.concatenate(cats).astype(str)) if cats and sum(len(c) for c in cats) else np.array([], str)
    ranks = []
    for categories, codes in pairs:
        mapping = np.append(np.searchsorted(vocab, categories.astype(str)), -1).astype(np.int64)
        ranks.append(mapping[codes])  # code -1 picks the appended -1
    return vocab.astype(object), ranks


@dataclass
class _Block:
    """Both sides' buffered rows in one key space (a merge step)."""

    key: np.ndarray
    series: np.ndarray  # ranks into `vocab`
    year: np.ndarray
    period: np.ndarray  # ranks into `periods`
    value: np.ndarray
    footnote: np.ndarray  # ranks into `footnotes`


def _blocks(old: list[_Part], new: list[_Part]) -> tuple[_Block, _Block, np.ndarray, np.ndarray, np.ndarray]:
    import numpy as np

    both = old + new
    vocab, series = _vocabulary([p.series for p in both])
    periods, period = _vocabulary([p.period for p in both])
    footnotes, footnote = _vocabulary([p.footnote for p in both])
    if len(periods) > 255:
        raise UnsortedInput("more than 255 distinct periods in one merge step")

    def block(index: range) -> _Block:
        def joined(arrays: list[np.ndarray]) -> np.ndarray:
            chosen = [arrays[i] for i in index]
            return np.concatenate(chosen) if chosen else np.empty(0, np.int64)

        s, y, p = joined(series), joined([x.year for x in both]), joined(period)
        key = (s << 24) | (y << 8) | p
        return _Block(key, s, y, p, joined([x.value for x in both]), joined(footnote))

    return block(range(len(old))), block(range(len(old), len(both))), vocab, periods, footnotes


def _check_sorted(side: _Side, block: _Block, vocab: np.ndarray, periods: np.ndarray, name: str) -> None:
    import numpy as np

    if len(block.key) > 1 and not bool(np.all(block.key[1:] > block.key[:-1])):
        raise UnsortedInput(f"the {name} partition is not in (series_id, year, period) order")
    if side.last is not None and len(block.key):
        first = (str(vocab[block.series[0]]), int(block.year[0]), str(periods[block.period[0]]))
        if first <= side.last:
            raise UnsortedInput(f"the {name} partition is not in (series_id, year, period) order")


def _take(block: _Block, stop: int) -> tuple[_Block, _Block]:
    def cut(sl: slice) -> _Block:
        return _Block(block.key[sl], block.series[sl], block.year[sl], block.period[sl], block.value[sl],
                      block.footnote[sl])

    return cut(slice(0, stop)), cut(slice(stop, None))


def _remainder(block: _Block, vocab: np.ndarray, periods: np.ndarray, footnotes: np.ndarray) -> list[_Part]:
    """Rows not merged yet, as a part with only the categories they use."""
    import numpy as np

    if not len(block.key):
        return []

    def compact(ranks: np.ndarray, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        used, codes = np.unique(ranks, return_inverse=True)
        valid = used >= 0
        categories = names[used[valid]] if len(names) else np.array([], object)
        remap = np.where(valid, np.cumsum(valid) - 1, -1)
        return categories.astype(object), remap[codes].astype(np.int64)

    return [_Part(compact(block.series, vocab), block.year.copy(), compact(block.period, periods),
                  block.value.copy(), compact(block.footnote, footnotes))]


def diff_partitions(old_path: Path | None, new_path: Path, context: dict[str, Any],
                    summary: Summary) -> Iterator[pd.DataFrame]:
    """Revision rows (frames of `tables.COLUMNS[BLS_REVISIONS]`) between two partitions, in key order.

    Sort-merge; if a side is not sorted, hashed passes (`_hashed_diff`) instead.
    """
    try:
        yield from _merge_diff(old_path, new_path, context, summary)
    except UnsortedInput as reason:
        log_event("revisions_unsorted_input", reason=str(reason))
        summary.revised = summary.added = summary.removed = 0
        summary.largest.clear()
        raise


def _merge_diff(old_path: Path | None, new_path: Path, context: dict[str, Any],
                summary: Summary) -> Iterator[pd.DataFrame]:
    import numpy as np

    old, new = _Side(prefetched(_parts(old_path))), _Side(prefetched(_parts(new_path)))  # read while merging
    while True:
        old.fill()
        new.fill()
        if not old.buffer and not new.buffer:
            return
        a, b, vocab, periods, footnotes = _blocks(old.buffer, new.buffer)
        _check_sorted(old, a, vocab, periods, "previous")
        _check_sorted(new, b, vocab, periods, "new")
        bounds = [side_block.key[-1] for side, side_block in ((old, a), (new, b)) if not side.done]
        limit = min(bounds) if bounds else None
        a_stop = len(a.key) if limit is None else int(np.searchsorted(a.key, limit, side="right"))
        b_stop = len(b.key) if limit is None else int(np.searchsorted(b.key, limit, side="right"))
        a_now, a_rest = _take(a, a_stop)
        b_now, b_rest = _take(b, b_stop)
        for side, now in ((old, a_now), (new, b_now)):
            if len(now.key):
                side.last = (str(vocab[now.series[-1]]), int(now.year[-1]), str(periods[now.period[-1]]))
        old.buffer = _remainder(a_rest, vocab, periods, footnotes)
        new.buffer = _remainder(b_rest, vocab, periods, footnotes)
        frame = _step(a_now, b_now, vocab, periods, footnotes, context, summary)
        if frame is not None:
            yield frame


def _step(a: _Block, b: _Block, vocab: np.ndarray, periods: np.ndarray, footnotes: np.ndarray,
          context: dict[str, Any], summary: Summary) -> pd.DataFrame | None:
    """The revision rows of one merge step (both sides sorted, unique keys, same key space)."""
    import numpy as np

    if len(b.key):
        at = np.minimum(np.searchsorted(b.key, a.key), len(b.key) - 1)
        found = b.key[at] == a.key
    else:
        at, found = np.zeros(len(a.key), np.int64), np.zeros(len(a.key), bool)
    matched = at[found]
    old_stored, new_stored = _comparable(a.value, b.value)
    changed = (old_stored[found] != new_stored[matched]) | (a.footnote[found] != b.footnote[matched])
    revised_old, revised_new = np.flatnonzero(found)[changed], matched[changed]
    removed = np.flatnonzero(~found)
    added_mask = np.ones(len(b.key), bool)
    added_mask[matched] = False
    added = np.flatnonzero(added_mask)
    summary.revised += len(revised_old)
    summary.added += len(added)
    summary.removed += len(removed)
    if not (len(revised_old) or len(added) or len(removed)):
        return None
    old_revised, new_revised = _ints(a.value[revised_old]), _ints(b.value[revised_new])
    sizes = np.abs(new_revised - old_revised)
    summary.offer(sizes, vocab[a.series[revised_old]], a.year[revised_old], periods[a.period[revised_old]],
                  old_revised, new_revised)
    n_r, n_a, n_d = len(revised_old), len(added), len(removed)
    key = np.concatenate([a.key[revised_old], b.key[added], a.key[removed]])
    series = np.concatenate([a.series[revised_old], b.series[added], a.series[removed]])
    year = np.concatenate([a.year[revised_old], b.year[added], a.year[removed]])
    period = np.concatenate([a.period[revised_old], b.period[added], a.period[removed]])
    zeros = np.zeros(n_d, np.int64)
    new_value = np.concatenate([new_revised, _ints(b.value[added]), zeros])
    old_value = np.concatenate([old_revised, np.zeros(n_a, np.int64), _ints(a.value[removed])])
    has_new = np.concatenate([np.ones(n_r + n_a, bool), np.zeros(n_d, bool)])
    has_old = np.concatenate([np.ones(n_r, bool), np.zeros(n_a, bool), np.ones(n_d, bool)])
    none = np.full(n_d, -1, np.int64)
    new_foot = np.concatenate([b.footnote[revised_new], b.footnote[added], none])
    old_foot = np.concatenate([a.footnote[revised_old], np.full(n_a, -1, np.int64), a.footnote[removed]])
    change = np.repeat(np.arange(3), [n_r, n_a, n_d])  # ranks into CHANGES
    order = np.argsort(key, kind="stable")
    return _frame(context, _texts(vocab, series[order]), year[order], _texts(periods, period[order]),
                  _value_column(old_value[order], has_old[order]), _value_column(new_value[order], has_new[order]),
                  _texts(CHANGES, change[order]), _texts(footnotes, new_foot[order]), _texts(footnotes, old_foot[order]))


def _texts(names: Any, ranks: np.ndarray) -> Any:
    """A text column from ranks into `names` (unique; -1 = NULL), dictionary-encoded as it is written."""
    import pandas as pd

    return pd.Categorical.from_codes(ranks, dtype=pd.CategoricalDtype(list(names)))


def _frame(context: dict[str, Any], series: Any, year: Any, period: Any, previous_value: Any, value: Any,
           change: Any, footnote: Any, previous_footnote: Any) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    rows = len(year)

    def moment(name: str) -> np.ndarray:
        return timestamps(context.get(name), rows)

    def text(values: Any) -> pd.Series:  # categorical (dictionary-encoded), else Python strings as they are
        if isinstance(values, pd.Categorical):
            return pd.Series(values)
        return pd.Series(np.asarray(values, dtype=object), dtype=object)

    return pd.DataFrame({
        "series_id": text(series), "year": np.asarray(year, dtype=np.int32),
        "period": text(period), "previous_value": previous_value, "value": value,
        "change": text(change), "footnote_codes": text(footnote),
        "previous_footnote_codes": text(previous_footnote),
        "vintage": moment("vintage"), "previous_vintage": moment("previous_vintage"),
        "recorded_at": moment("recorded_at"),
    })


def _empty_frame(context: dict[str, Any]) -> pd.DataFrame:
    import numpy as np

    empty = np.empty(0, np.int64)
    return _frame(context, np.empty(0, object), empty, np.empty(0, object), _value_column(empty, empty.astype(bool)),
                  _value_column(empty, empty.astype(bool)), np.empty(0, object), np.empty(0, object),
                  np.empty(0, object))


def _hashed_diff(old_path: Path | None, new_path: Path, context: dict[str, Any], summary: Summary,
                 buckets: int) -> Iterator[pd.DataFrame]:
    """The same rows for unsorted partitions: `buckets` passes, each sorting the rows of one hash bucket."""
    import numpy as np

    for bucket in range(buckets):
        sides = []
        for path in (old_path, new_path):
            chosen = []
            for part in _parts(path):
                cats, codes = part.series
                hashes = np.array([int(hashlib.md5(c.encode()).hexdigest()[:8], 16) % buckets for c in cats.astype(str)]
                                  + [0], dtype=np.int64)
                keep = hashes[codes] == bucket
                chosen.append(_Part((cats, codes[keep]), part.year[keep], (part.period[0], part.period[1][keep]),
                                    part.value[keep], (part.footnote[0], part.footnote[1][keep])))
            sides.append(chosen)
        a, b, vocab, periods, footnotes = _blocks(sides[0], sides[1])
        a, b = _sorted_block(a), _sorted_block(b)
        frame = _step(a, b, vocab, periods, footnotes, context, summary)
        if frame is not None:
            yield frame


def _sorted_block(block: _Block) -> _Block:
    import numpy as np

    order = np.argsort(block.key, kind="stable")
    return _Block(block.key[order], block.series[order], block.year[order], block.period[order],
                  block.value[order], block.footnote[order])


def _rows_of(path: Path | None) -> int:
    if path is None:
        return 0
    from fastparquet import ParquetFile

    return int(ParquetFile(str(path)).count())


def write_revisions(out_path: Path, old_path: Path | None, new_path: Path,
                    context: dict[str, Any]) -> tuple[int, Summary]:
    """Write the revision rows between two partitions to `out_path`; (rows, summary)."""
    summary = Summary()
    frames: Iterator[pd.DataFrame] = iter(()) if old_path is None else diff_partitions(old_path, new_path, context,
                                                                                       summary)
    try:
        with open(out_path, "wb") as out:
            rows = write_parquet(out, _with_schema(context, frames), VALUE_DECIMALS)
    except UnsortedInput:
        summary = Summary()
        buckets = max(1, -(-max(_rows_of(old_path), _rows_of(new_path)) // BUCKETS_ROWS))
        with open(out_path, "wb") as out:
            rows = write_parquet(out, _with_schema(context, _hashed_diff(old_path, new_path, context, summary,
                                                                          buckets)), VALUE_DECIMALS)
    return rows, summary


def _with_schema(context: dict[str, Any], frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """An empty frame first (it fixes the schema whatever comes), then the rows."""
    yield _empty_frame(context)
    yield from frames
