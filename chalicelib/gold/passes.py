"""The gold build's passes: which series each pass holds, which row groups it reads, and its observations.

A pass holds at most about `pass_rows` observations: the series id space is cut into ranges from the
row groups' series_id statistics (so each row group is read about once), or, without statistics (or
with row groups much larger than a pass), into hash buckets of the series id. A pass's observations
come back sorted by (series, year, period), one per key: where data files overlap, the first file by
name wins.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.gold.period_codes import PERIOD_INDEX, UNKNOWN
from chalicelib.gold.values import GoldFailed, data_row_groups, safe_for_sums

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class DataFile:
    """A local copy of one `bls_data` partition; `name` orders the files (first wins)."""

    name: str
    path: Path


@dataclass
class Keep:
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


def plan(files: list[tuple[DataFile, Any]], pass_rows: int) -> list[tuple[Keep, list[list[int]]]]:
    """The passes: which series each keeps and which row groups of each file it reads."""
    groups = [[(i, rg.num_rows) for i, rg in enumerate(parquet.row_groups)] for _, parquet in files]
    total = sum(rows for g in groups for _, rows in g)
    every = [[i for i, _ in g] for g in groups]
    if total <= pass_rows:
        return [(Keep(), every)]
    stats = [series_bounds(parquet) for _, parquet in files]
    count = -(-total // pass_rows)
    if any(s is None for s in stats):
        return [(Keep(bucket=(k, count)), every) for k in range(count)]
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
        return [(Keep(bucket=(k, count)), every) for k in range(count)]
    passes = []
    for start, stop in ranges:
        chosen = [[i for i, (lo, hi) in enumerate(file_stats or [])
                   if (start is None or hi >= start) and (stop is None or lo < stop)] for file_stats in stats]
        passes.append((Keep(start, stop), chosen))
    return passes


def series_bounds(parquet: Any) -> list[tuple[str, str]] | None:
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
class Observations:
    """A pass's observations, sorted by (series, year, period), one per key; series as sorted names."""

    names: np.ndarray  # object: the series ids, sorted
    sid: np.ndarray  # int64 index into names
    year: np.ndarray  # int64
    pc: np.ndarray  # int64 period index (PERIOD_INDEX)
    value: np.ndarray  # int64 or object


def read_pass(files: list[tuple[DataFile, Any]], groups: list[list[int]], keep: Keep) -> Observations:
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
        return Observations(np.empty(0, object), empty, empty, empty, empty)
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
    return Observations(names_list[order], sid[rows], year[rows], pc[rows], safe_for_sums(value[rows], 16))

