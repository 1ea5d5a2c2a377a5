"""The numeric kernel: one pass over a data file gives the best year per series (definition 2,
exact int64 sums per block, combined at the end) and the rows of one series/period."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from chalicelib.bls.data_file import Block, BlsDataReader, ParseStats
from chalicelib.bls.decimals import decimal_number, exact_floats
from chalicelib.bls.periods import ANNUAL, QUARTERS, period_code
from chalicelib.core.errors import SourceError
from chalicelib.reports.documents import BestYear

_YEAR_FACTOR = 10_000  # (series, year) packed as series * 10_000 + year
# Values have at most 15 digits (data_file.MAX_DIGITS), so this many fit an int64 sum.
_MAX_ROWS_PER_SUM = 9_000

Selection = list[tuple[int, float | None]]  # (year, exact value or None) of one series/period, by year


@dataclass
class DataScan:
    """What one pass over a data file produced."""

    best_years: list[BestYear]  # sorted by series id
    no_quarterly_series: list[str]
    selected: Selection  # of the chosen series/period
    stats: ParseStats


def scan_data(
    reader: BlsDataReader,
    *,
    include_annual: bool = False,
    best_years: bool = True,
    series_id: str | None = None,
    period: str | None = None,
) -> DataScan:
    """Stream the file once: best years (definition 2) and the rows of `series_id`/`period`."""
    summed = [period_code(p) for p in QUARTERS + ((ANNUAL,) if include_annual else ())]
    wanted_period = period_code(period) if period else None
    partials: list[_PartialSums] = []
    selected: Selection = []
    for block in reader:
        if best_years and (partial := _block_sums(block, summed, reader.source)) is not None:
            partials.append(partial)
        if series_id is not None and wanted_period is not None:
            selected += _selected_rows(block, reader.series_index.get(series_id), wanted_period)
    best = _best_per_series(partials, reader.series_names, reader.source)
    with_sums = {reader.series_index[row.series_id] for row in best}
    no_quarterly = (sorted(name for code, name in enumerate(reader.series_names) if code not in with_sums)
                    if best_years else [])
    selected.sort(key=lambda row: row[0])
    return DataScan(best, no_quarterly, selected, reader.stats)


@dataclass(frozen=True)
class _PartialSums:
    """One block's sums per (series, year) key (`series * _YEAR_FACTOR + year`), at the block's scale."""

    keys: Any  # int64 array, ascending
    sums: Any  # int64 array
    scale: int


def _block_sums(block: Block, summed: list[int], source: str) -> _PartialSums | None:
    """The sums of the block's valid rows of the `summed` periods per (series, year); None if it has none."""
    import numpy as np

    rows = block.value_ok & np.logical_or.reduce([block.period == code for code in summed])
    keys = block.series[rows].astype(np.int64) * _YEAR_FACTOR + block.year[rows]
    values = block.value[rows]
    if not len(keys):
        return None
    if np.any(keys[1:] < keys[:-1]):  # files are sorted in practice; sort if not
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    if int(np.diff(np.append(starts, len(keys))).max()) > _MAX_ROWS_PER_SUM:
        raise SourceError(f"{source}: more than {_MAX_ROWS_PER_SUM} rows for one series and year")
    return _PartialSums(keys[starts], np.add.reduceat(values, starts), block.scale)


def _selected_rows(block: Block, code: int | None, wanted_period: int) -> Selection:
    """(year, exact value or None) of the block's rows of series `code` and the wanted period."""
    import numpy as np

    if code is None:
        return []
    mine = np.flatnonzero((block.series == code) & (block.period == wanted_period))
    return [
        (int(block.year[i]), decimal_number(block.value[i], block.scale) if block.value_ok[i] else None)
        for i in mine.tolist()
    ]


def _best_per_series(partials: list[_PartialSums], names: list[str], source: str) -> list[BestYear]:
    """Combine the blocks' partial sums exactly (int64); per series the year of the largest sum
    (the earliest year on ties), sorted by series id."""
    import numpy as np

    if not partials:
        return []
    scale = max(p.scale for p in partials)
    keys, totals = _combined_sums(partials, scale, source)
    series, years = keys // _YEAR_FACTOR, keys % _YEAR_FACTOR
    # Per series (years ascending within it): the largest sum; the first year reaching it wins ties.
    firsts = np.flatnonzero(np.concatenate(([True], series[1:] != series[:-1])))
    largest = np.repeat(np.maximum.reduceat(totals, firsts), np.diff(np.append(firsts, len(series))))
    reaching = np.flatnonzero(totals == largest)
    winners = reaching[np.concatenate(([True], series[reaching][1:] != series[reaching][:-1]))]
    values = exact_floats(totals[winners], scale)
    best = [
        BestYear(names[code], year, value)
        for code, year, value in zip(series[winners].tolist(), years[winners].tolist(), values)
    ]
    best.sort(key=attrgetter("series_id"))
    return best


def _combined_sums(partials: list[_PartialSums], scale: int, source: str) -> tuple[Any, Any]:
    """(keys ascending and unique, sums at `scale`): the blocks' partial sums added per key
    (a pair can straddle two blocks); SourceError if int64 could not hold them exactly."""
    import numpy as np

    rescaled = []
    for partial in partials:
        factor = 10 ** (scale - partial.scale)
        if factor > 1 and len(partial.sums) and int(np.abs(partial.sums).max()) > np.iinfo(np.int64).max // factor:
            raise SourceError(f"{source}: values too large to sum exactly at {scale} decimals")
        rescaled.append(partial.sums * factor)
    keys = np.concatenate([p.keys for p in partials])
    totals = np.concatenate(rescaled)
    del rescaled
    if np.any(keys[1:] < keys[:-1]):
        order = np.argsort(keys, kind="stable")
        keys, totals = keys[order], totals[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    approximate = np.add.reduceat(totals.astype(np.float64), starts)
    if len(approximate) and float(np.abs(approximate).max()) >= 2.0**62:
        raise SourceError(f"{source}: sums too large for exact 64-bit arithmetic")
    return keys[starts], np.add.reduceat(totals, starts)
