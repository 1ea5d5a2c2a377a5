"""One survey's four gold tables from its silver partitions and mapping files (see docs/gold.md).

Inputs: every `bls_data` partition of the survey (local Parquet files, in file-name order:
the data files of a survey are one table split in parts that may overlap — `pr.data.0.Current`
holds the recent years of `pr.data.1.AllData` — so an observation (series, year, period) is
taken once, from the first file that has it), its `bls_series` partition, and its mapping files
(`<survey>.<name>`, code → text).

Bounded memory: observations are processed in passes over ranges of series ids (chosen from
the row groups' series_id statistics, so each row group is read about once; without statistics,
by a hash of the series id). A pass holds at most about `PASS_ROWS` observations; each pass
yields one row group of every table, and the four files are written as the passes go.

Periods (BLS conventions, `chalicelib.bls.periods.PERIOD_KINDS`): a series' kind is the finest
of monthly (M01–M12, annual M13), quarterly (Q01–Q04, Q05), semiannual (S01–S02, S03) present in
its data, else annual (A01). Its sub-annual periods are the regular periods of that kind; its
published annual value is that kind's annual period (A01 for annual series).
Exact: values are the unscaled integers of the silver DECIMAL (`chalicelib.gold.values`); sums
are integer sums, the mean is rounded half-even; only `pct_change` is a float.
"""

from __future__ import annotations

import json
import queue
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.bls.mappings import SEPARATOR, code_names
from chalicelib.bls.periods import PERIOD_KINDS
from chalicelib.gold import tables
from chalicelib.gold.values import (
    DECIMAL_TYPE,
    GoldFailed,
    check_range,
    data_row_groups,
    decimal_column,
    half_even_mean,
    open_data,
    safe_for_sums,
)
from chalicelib.lake.parquet import write_parquet

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PASS_ROWS = 2_000_000  # observations held at once (a pass's arrays take ~250 bytes per observation)
UNKNOWN = 255

# Period codes as small integers: kind index and role of each.
_KIND_LETTERS = ("M", "Q", "S", "A")
_KIND_NAMES = ("monthly", "quarterly", "semiannual", "annual")
_PERIODS: list[str] = []
_KIND: list[int] = []
_REGULAR: list[bool] = []
_ANNUAL_OF_KIND: list[int] = []
for _k, _letter in enumerate(_KIND_LETTERS):
    _kind = PERIOD_KINDS[_letter]
    for _p in (*_kind.periods, _kind.annual) if _kind.annual not in _kind.periods else _kind.periods:
        _PERIODS.append(_p)
        _KIND.append(_k)
        _REGULAR.append(_p != _kind.annual)
    _ANNUAL_OF_KIND.append(_PERIODS.index(_kind.annual))
PERIOD_INDEX = {p: i for i, p in enumerate(_PERIODS)}
_EXPECTED = [len(PERIOD_KINDS[letter].periods) if letter != "A" else 0 for letter in _KIND_LETTERS]


@dataclass(frozen=True)
class DataFile:
    """A local copy of one `bls_data` partition; `name` orders the files (first wins)."""

    name: str
    path: Path


@dataclass
class BuildInputs:
    """What one survey's gold is made from (local files and small texts)."""

    survey: str
    data_files: list[DataFile]
    series_path: Path | None
    mappings: dict[str, bytes]  # mapping file name (`area`, `item`, ...) -> its bytes


@dataclass
class BuildResult:
    """Rows written per table, and how many passes the data took."""

    rows: dict[str, int] = field(default_factory=dict)
    passes: int = 0


# --------------------------------------------------------------------------- the build


def build_survey(inputs: BuildInputs, out: dict[str, Path], *, pass_rows: int = PASS_ROWS) -> BuildResult:
    """Write the four tables of `inputs.survey` to the files `out[table]`; GoldFailed if it cannot."""
    mappings = {name: code_names(body, name) for name, body in inputs.mappings.items()}
    files = [(f, open_data(str(f.path))) for f in sorted(inputs.data_files, key=lambda f: f.name)]
    series_file = _open_series(inputs.series_path)
    passes = _plan(files, pass_rows)
    result = BuildResult(passes=len(passes))
    with _Writers(out) as writers:
        for keep, groups in passes:
            frames = _one_pass(files, groups, keep, series_file, mappings)
            writers.put(frames)
        result.rows = writers.rows()
    return result


@dataclass
class _Keep:
    """Which series a pass holds: a range of ids [low, high) or one hash bucket."""

    low: str | None = None
    high: str | None = None
    bucket: tuple[int, int] | None = None  # (index, count)

    def mask(self, names: Iterable[str]) -> np.ndarray:
        import numpy as np

        names = list(names)
        if self.bucket is not None:
            index, count = self.bucket
            return np.array([zlib.crc32(n.encode()) % count == index for n in names], dtype=bool)
        return np.array([(self.low is None or n >= self.low) and (self.high is None or n < self.high)
                         for n in names], dtype=bool)


def _plan(files: list[tuple[DataFile, Any]], pass_rows: int) -> list[tuple[_Keep, list[list[int]]]]:
    """The passes: which series each keeps and which row groups of each file it reads."""
    groups = [[(i, rg.num_rows) for i, rg in enumerate(parquet.row_groups)] for _, parquet in files]
    total = sum(rows for g in groups for _, rows in g)
    every = [[i for i, _ in g] for g in groups]
    if total <= pass_rows:
        return [(_Keep(), every)]
    stats = [_series_bounds(parquet) for _, parquet in files]
    count = -(-total // pass_rows)
    if any(s is None for s in stats):
        return [(_Keep(bucket=(k, count)), every) for k in range(count)]
    bounds: list[tuple[str, str, int]] = sorted(
        (low, high, parquet.row_groups[i].num_rows)
        for (_, parquet), file_stats in zip(files, stats) for i, (low, high) in enumerate(file_stats or []))
    edges: list[str] = []
    held = 0
    for low, _, rows in bounds:
        if held and held + rows > pass_rows and (not edges or low > edges[-1]):
            edges.append(low)
            held = 0
        held += rows
    ranges = list(zip([None, *edges], [*edges, None]))
    if len(ranges) < count // 2:  # row groups much larger than a pass: ranges cannot bound the memory
        return [(_Keep(bucket=(k, count)), every) for k in range(count)]
    plan = []
    for start, stop in ranges:
        chosen = [[i for i, (lo, hi) in enumerate(file_stats or [])
                   if (start is None or hi >= start) and (stop is None or lo < stop)] for file_stats in stats]
        plan.append((_Keep(start, stop), chosen))
    return plan


def _series_bounds(parquet: Any) -> list[tuple[str, str]] | None:
    """(min, max) series_id of each row group, from the statistics; None if a row group has none."""
    out = []
    for group in parquet.row_groups:
        column = next(c for c in group.columns if c.meta_data.path_in_schema[-1] == "series_id")
        stats = column.meta_data.statistics
        low = stats and (stats.min_value if stats.min_value is not None else stats.min)
        high = stats and (stats.max_value if stats.max_value is not None else stats.max)
        if low is None or high is None:
            return None
        out.append((bytes(low).decode("utf-8"), bytes(high).decode("utf-8")))
    return out


@dataclass
class _Observations:
    """A pass's observations, sorted by (series, year, period), one per key; series as sorted names."""

    names: np.ndarray  # object: the series ids, sorted
    sid: np.ndarray  # int64 index into names
    year: np.ndarray  # int64
    pc: np.ndarray  # int64 period index (PERIOD_INDEX)
    value: np.ndarray  # int64 or object


def _read_pass(files: list[tuple[DataFile, Any]], groups: list[list[int]], keep: _Keep) -> _Observations:
    import numpy as np

    ids: dict[str, int] = {}
    period_table = np.full(1, UNKNOWN, np.int64)
    parts: list[tuple[np.ndarray, ...]] = []
    for rank, ((_, parquet), chosen) in enumerate(zip(files, groups)):
        for group in data_row_groups(parquet, chosen):
            names = list(group.series.categories)
            wanted = keep.mask(names)
            gid = np.array([ids.setdefault(n, len(ids)) if w else -1 for n, w in zip(names, wanted)] or [-1],
                           dtype=np.int64)
            codes = np.asarray(group.series.codes)
            mask = codes >= 0
            mask[mask] = wanted[codes[mask]] if len(wanted) else False
            period_table = np.array([PERIOD_INDEX.get(str(p).strip(), UNKNOWN) for p in group.period.categories]
                                    or [UNKNOWN], dtype=np.int64)
            pcodes = np.asarray(group.period.codes)
            pc = np.where(pcodes >= 0, period_table[np.maximum(pcodes, 0)], UNKNOWN)
            mask &= pc != UNKNOWN
            parts.append((gid[codes[mask]], group.year[mask].astype(np.int64), pc[mask],
                          group.value[mask], np.full(int(mask.sum()), rank, np.int64)))
    names_list = np.array(list(ids), dtype=object)
    if not parts or not sum(len(p[0]) for p in parts):
        empty = np.empty(0, np.int64)
        return _Observations(np.empty(0, object), empty, empty, empty, empty)
    sid, year, pc, value, ranks = (np.concatenate([p[k] for p in parts]) for k in range(5))
    order = np.argsort(names_list, kind="stable")
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    sid = position[sid]
    if (year < 0).any() or (year > 16383).any():
        raise GoldFailed("a year outside 0-16383 in the silver data")
    key = (((sid << 14) | year) << 5 | pc) << 4 | ranks
    sort = np.argsort(key, kind="stable")
    key = key[sort] >> 4
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]  # the first file that has an observation wins
    rows = sort[first]
    return _Observations(names_list[order], sid[rows], year[rows], pc[rows], safe_for_sums(value[rows], 16))


def _row_index(starts: np.ndarray, n: int) -> np.ndarray:
    """For each of n rows, the number of the group (given by its start rows) it belongs to."""
    import numpy as np

    marks = np.zeros(n, np.int64)
    marks[starts] = 1
    index: np.ndarray = np.cumsum(marks) - 1
    return index


def _starts(values: np.ndarray) -> np.ndarray:
    import numpy as np

    if not len(values):
        return np.empty(0, np.int64)
    change = np.ones(len(values), dtype=bool)
    change[1:] = values[1:] != values[:-1]
    return np.flatnonzero(change)


def _one_pass(files: list[tuple[DataFile, Any]], groups: list[list[int]], keep: _Keep,
              series_file: Any, mappings: dict[str, dict[str, str]]) -> dict[str, pd.DataFrame]:
    import numpy as np
    import pandas as pd

    obs = _read_pass(files, groups, keep)
    names, sid, year, pc, value = obs.names, obs.sid, obs.year, obs.pc, obs.value
    kind_of = np.array(_KIND, np.int64)[pc] if len(pc) else np.empty(0, np.int64)
    regular_code = np.array(_REGULAR, bool)[pc] if len(pc) else np.empty(0, bool)
    # per series (index s into the series present in this pass's data)
    s_starts = _starts(sid)
    s_of_row = _row_index(s_starts, len(sid))
    kinds = np.bitwise_or.reduceat(np.left_shift(1, kind_of), s_starts) if len(sid) else np.empty(0, np.int64)
    primary = np.select([kinds & 1 > 0, kinds & 2 > 0, kinds & 4 > 0], [0, 1, 2], 3)
    regular = regular_code & (kind_of == primary[s_of_row])
    annual_code = pc == np.array(_ANNUAL_OF_KIND, np.int64)[primary[s_of_row]]
    # per (series, year) group
    g_starts = _starts((sid << 14) | year)
    g_of_row = _row_index(g_starts, len(sid))
    periods = np.add.reduceat(regular.astype(np.int64), g_starts) if len(sid) else np.empty(0, np.int64)
    zero = value[:0].sum() if value.dtype == object else 0
    sums = np.add.reduceat(np.where(regular, value, zero), g_starts) if len(sid) else value[:0]
    has_annual = np.zeros(len(g_starts), bool)
    published = np.zeros(len(g_starts), value.dtype)
    has_annual[g_of_row[annual_code]] = True
    published[g_of_row[annual_code]] = value[annual_code]
    g_sid, g_year = sid[g_starts], year[g_starts]
    g_series = s_of_row[g_starts]
    keep_group = (periods > 0) | has_annual
    expected = np.array(_EXPECTED, np.int64)[primary[g_series]]
    complete = np.where(expected > 0, periods == expected, has_annual)
    means = half_even_mean(sums, np.maximum(periods, 1))
    for column, values_ in (("value_sum", sums), ("published_annual", published)):
        check_range(column, values_, names[g_sid])
    k = keep_group
    annual = pd.DataFrame({
        "series_id": pd.Categorical.from_codes(g_sid[k], pd.Index(names, dtype=object)),
        "year": g_year[k].astype(np.int32),
        "periods": periods[k].astype(np.int32),
        "value_sum": decimal_column(np.where(periods > 0, sums, 0)[k], (periods > 0)[k]),
        "value_mean": decimal_column(np.where(periods > 0, means, 0)[k], (periods > 0)[k]),
        "published_annual": decimal_column(np.where(has_annual, published, 0)[k], has_annual[k]),
        "complete": complete[k].astype(bool),
    })
    best = _best_years(names, g_sid, g_year, g_series, periods, sums, has_annual, published)
    latest = _latest(names, sid, year, pc, value, s_of_row, regular, annual_code)
    catalog = _catalog(keep, series_file, mappings, names, sid, year, pc, s_starts, kinds, regular)
    return {tables.SERIES_CATALOG: catalog, tables.SERIES_ANNUAL: annual, tables.SERIES_BEST_YEAR: best,
            tables.SERIES_LATEST: latest}


def _first_max(series: np.ndarray, years: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row index of the largest value per series (rows sorted by series, year): ties to the earliest year."""
    import numpy as np

    if not len(series):
        return np.empty(0, np.int64)
    starts = _starts(series)
    index = _row_index(starts, len(series))
    largest = np.maximum.reduceat(values, starts)
    candidates = np.flatnonzero(values == largest[index])
    chosen: np.ndarray = candidates[_starts(series[candidates])]
    return chosen


def _best_years(names: np.ndarray, g_sid: np.ndarray, g_year: np.ndarray, g_series: np.ndarray,
                periods: np.ndarray, sums: np.ndarray, has_annual: np.ndarray, published: np.ndarray) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    with_sums = periods > 0
    sub = np.flatnonzero(with_sums)
    chosen_sub = sub[_first_max(g_series[sub], g_year[sub], sums[sub])]
    has_sub_series = np.zeros(int(g_series.max()) + 1 if len(g_series) else 0, bool)
    has_sub_series[g_series[sub]] = True
    only_annual = np.flatnonzero(has_annual & ~has_sub_series[g_series] if len(g_series) else has_annual)
    chosen_annual = only_annual[_first_max(g_series[only_annual], g_year[only_annual], published[only_annual])]
    rows = np.concatenate([chosen_sub, chosen_annual])
    basis = np.array([tables.BASIS_SUB_ANNUAL] * len(chosen_sub) + [tables.BASIS_ANNUAL] * len(chosen_annual),
                     dtype=object)
    values = np.concatenate([sums[chosen_sub], published[chosen_annual]]) if len(rows) else sums[:0]
    order = np.argsort(g_sid[rows], kind="stable")
    rows, basis, values = rows[order], basis[order], values[order]
    return pd.DataFrame({
        "series_id": _strings(names[g_sid[rows]]),
        "year": g_year[rows].astype(np.int32),
        "value": decimal_column(values),
        "basis": _strings(basis),
    })


def _latest(names: np.ndarray, sid: np.ndarray, year: np.ndarray, pc: np.ndarray, value: np.ndarray,
            s_of_row: np.ndarray, regular: np.ndarray, annual_code: np.ndarray) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    has_regular = np.zeros(int(s_of_row.max()) + 1 if len(s_of_row) else 0, bool)
    has_regular[s_of_row[regular]] = True
    observed = np.flatnonzero(regular | (annual_code & ~has_regular[s_of_row])) if len(sid) else sid[:0]
    last = np.ones(len(observed), dtype=bool)
    last[:-1] = sid[observed][1:] != sid[observed][:-1]
    rows = observed[last]
    key = (sid << 14 | year) << 5 | pc
    target = ((sid[rows] << 14) | (year[rows] - 1)) << 5 | pc[rows]
    found_at = np.minimum(np.searchsorted(key, target), max(len(key) - 1, 0))
    found = key[found_at] == target if len(key) else np.zeros(0, bool)
    latest_value = value[rows]
    zero = value[:0].sum() if value.dtype == object else 0
    year_ago = np.where(found, value[found_at], zero) if len(rows) else value[:0]
    change = latest_value - year_ago
    check_range("change", np.where(found, change, zero) if len(rows) else change, names[sid[rows]])
    nonzero = found & (year_ago != 0)
    pct = np.full(len(rows), np.nan)
    if nonzero.any():
        pct[nonzero] = (change[nonzero].astype(np.float64) / year_ago[nonzero].astype(np.float64)) * 100.0
    return pd.DataFrame({
        "series_id": _strings(names[sid[rows]]),
        "year": year[rows].astype(np.int32),
        "period": _strings(np.array(_PERIODS, dtype=object)[pc[rows]] if len(rows) else []),
        "value": decimal_column(latest_value),
        "year_ago_value": decimal_column(year_ago, found),
        "change": decimal_column(np.where(found, change, zero) if len(rows) else change, found),
        "pct_change": pct,
    })


# --------------------------------------------------------------------------- the catalog


def _open_series(path: Path | None) -> Any:
    if path is None:
        return None
    from fastparquet import ParquetFile

    return ParquetFile(str(path))


def _series_rows(series_file: Any, keep: _Keep) -> pd.DataFrame:
    import pandas as pd

    columns = ["series_id", "series_title", "begin_year", "begin_period", "end_year", "end_period", "codes"]
    if series_file is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    frames = []
    for group in series_file.row_groups:
        frame = series_file.read_row_group_file(group, columns, categories=[])
        frames.append(frame[keep.mask(frame["series_id"].astype(str))])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _catalog(keep: _Keep, series_file: Any, mappings: dict[str, dict[str, str]], names: np.ndarray,
             sid: np.ndarray, year: np.ndarray, pc: np.ndarray, s_starts: np.ndarray, kinds: np.ndarray,
             regular: np.ndarray) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    described = _series_rows(series_file, keep)
    by_id = {str(s): i for i, s in enumerate(described["series_id"].tolist())}
    # the data's view of each series in this pass: periodicity, first and last observation
    regular_kinds = np.bitwise_or.reduceat(np.where(regular | (pc == PERIOD_INDEX["A01"]),
                                                    np.left_shift(1, np.array(_KIND, np.int64)[pc]), 0),
                                           s_starts) if len(sid) else np.empty(0, np.int64)
    s_ends = np.append(s_starts[1:], len(sid)) - 1 if len(sid) else s_starts
    data_series = {str(names[sid[s]]): i for i, s in enumerate(s_starts.tolist())}
    all_ids = sorted(set(by_id) | set(data_series))
    rows: dict[str, list[Any]] = {name: [] for name, _ in tables.COLUMNS[tables.SERIES_CATALOG]}
    for series_id in all_ids:
        described_row = by_id.get(series_id)
        data_index = data_series.get(series_id)
        codes_text = described["codes"].iat[described_row] if described_row is not None else None
        codes = json.loads(codes_text) if isinstance(codes_text, str) and codes_text else {}
        title = described["series_title"].iat[described_row] if described_row is not None else None
        named = {column: {"code": str(code), "name": _name(mappings, column, str(code))}
                 for column, code in codes.items()}
        if not isinstance(title, str) or not title.strip():
            title = _built_title(mappings, codes) or series_id
        rows["series_id"].append(series_id)
        rows["title"].append(title)
        seasonal = codes.get("seasonal", codes.get("seasonal_code"))
        rows["seasonal"].append(str(seasonal) if seasonal not in (None, "") else None)
        if data_index is not None:
            rows["periodicity"].append(_periodicity(int(regular_kinds[data_index]) or 0))
        else:
            rows["periodicity"].append(_periodicity_of_text(described, described_row))
        begin_year: Any = described["begin_year"].iat[described_row] if described_row is not None else None
        if described_row is not None and pd.notna(begin_year):
            rows["begin_year"].append(int(begin_year))
            rows["begin_period"].append(_text(described["begin_period"].iat[described_row]))
            end_year: Any = described["end_year"].iat[described_row]
            rows["end_year"].append(int(end_year) if pd.notna(end_year) else None)
            rows["end_period"].append(_text(described["end_period"].iat[described_row]))
        elif data_index is not None:
            first, last = int(s_starts[data_index]), int(s_ends[data_index])
            rows["begin_year"].append(int(year[first]))
            rows["begin_period"].append(_PERIODS[int(pc[first])])
            rows["end_year"].append(int(year[last]))
            rows["end_period"].append(_PERIODS[int(pc[last])])
        else:
            for column in ("begin_year", "begin_period", "end_year", "end_period"):
                rows[column].append(None)
        rows["codes"].append(json.dumps(named, ensure_ascii=False, separators=(",", ":")))
    frame = pd.DataFrame({name: _strings(values) for name, values in rows.items()})
    for column in ("begin_year", "end_year"):
        frame[column] = pd.array(rows[column], dtype="Int32")
    return frame


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def _name(mappings: dict[str, dict[str, str]], column: str, code: str) -> str:
    texts = mappings.get(column.removesuffix("_code"))
    return texts.get(code, code) if texts else code


def _built_title(mappings: dict[str, dict[str, str]], codes: dict[str, Any]) -> str:
    """The code columns that have a mapping file, as texts (a code without an entry: the code itself)."""
    parts = [_name(mappings, column, str(code)) for column, code in codes.items()
             if column.removesuffix("_code") in mappings and str(code)]
    return SEPARATOR.join(part for part in parts if part)


def _periodicity(kinds: int) -> str:
    present = [name for bit, name in enumerate(_KIND_NAMES) if kinds & (1 << bit)]
    if not present:
        return "annual"  # only published annual values (M13/Q05/S03)
    return present[0] if len(present) == 1 else "mixed"


def _periodicity_of_text(described: pd.DataFrame, row: int | None) -> str | None:
    if row is None:
        return None
    letters = {str(described[c].iat[row] or "")[:1] for c in ("begin_period", "end_period")} - {""}
    kinds = sum(1 << _KIND_LETTERS.index(letter) for letter in letters if letter in _KIND_LETTERS)
    return _periodicity(kinds) if kinds else None


def _strings(values: Any) -> pd.Series:
    import pandas as pd

    return pd.Series(list(values), dtype=object)


# --------------------------------------------------------------------------- writing four files at once


class _Writers:
    """One fastparquet writer thread per table, fed one row group per pass."""

    def __init__(self, out: dict[str, Path]) -> None:
        self.out = out
        self.queues: dict[str, queue.Queue[pd.DataFrame | None]] = {t: queue.Queue(maxsize=2) for t in out}
        self.counts: dict[str, int] = {}
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._write, args=(t,), name=f"gold-{t}", daemon=True) for t in out]

    def __enter__(self) -> _Writers:
        for thread in self.threads:
            thread.start()
        return self

    def put(self, frames: dict[str, pd.DataFrame]) -> None:
        for table, frame in frames.items():
            self._raise()
            self.queues[table].put(frame)

    def rows(self) -> dict[str, int]:
        self._finish()
        return dict(self.counts)

    def __exit__(self, *exc: object) -> None:
        self._finish()

    def _finish(self) -> None:
        for q in self.queues.values():
            if not getattr(q, "closed", False):
                q.put(None)
                q.closed = True  # type: ignore[attr-defined]
        for thread in self.threads:
            thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.errors:
            error = self.errors[0]
            raise error if isinstance(error, GoldFailed) else GoldFailed(f"writing a gold table failed: {error}")

    def _write(self, table: str) -> None:
        source = self.queues[table]

        def frames() -> Iterator[pd.DataFrame]:
            while (frame := source.get()) is not None:
                yield frame

        groups = frames()
        try:
            with open(self.out[table], "wb") as stream:
                decimals = {name: DECIMAL_TYPE for name in tables.DECIMAL_COLUMNS[table]}
                self.counts[table] = write_parquet(stream, groups, decimals)
        except BaseException as error:  # reported to the building thread
            self.errors.append(error)
            for _ in groups:  # keep draining so the builder never blocks
                pass


def run_build(inputs: BuildInputs, folder: Path, *, pass_rows: int = PASS_ROWS,
              build: Callable[..., BuildResult] = build_survey) -> tuple[dict[str, Path], BuildResult]:
    """`build_survey` into `folder/<table>.parquet`; the paths and the result."""
    out = {table: folder / f"{table}.parquet" for table in tables.TABLES}
    return out, build(inputs, out, pass_rows=pass_rows)
