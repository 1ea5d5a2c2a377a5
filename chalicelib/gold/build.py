"""One survey's four gold tables from its silver partitions and mapping files (see docs/gold.md).

Inputs: every `bls_data` partition of the survey (local Parquet files, in file-name order:
the data files of a survey are one table split in parts that may overlap — `pr.data.0.Current`
holds the recent years of `pr.data.1.AllData` — so an observation (series, year, period) is
taken once, from the first file that has it), its `bls_series` partition, and its mapping files
(`<survey>.<name>`, code → text).

Bounded memory: observations are processed in passes over ranges of series ids (`passes.py`), each
holding at most about `PASS_ROWS` observations; each pass yields one row group of every table
(`catalog.py` for the catalog), and the four files are written as the passes go (`writers.py`).

Periods (BLS conventions, `chalicelib.bls.periods.PERIOD_KINDS`): a series' kind is the finest
of monthly (M01–M12, annual M13), quarterly (Q01–Q04, Q05), semiannual (S01–S02, S03) present in
its data, else annual (A01). Its sub-annual periods are the regular periods of that kind; its
published annual value is that kind's annual period (A01 for annual series).
Exact: values are the unscaled integers of the silver DECIMAL (`chalicelib.gold.values`); sums
are integer sums, the mean is rounded half-even; only `pct_change` is a float.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.bls.mappings import code_names
from chalicelib.gold import tables
from chalicelib.gold.catalog import catalog_rows, open_series
from chalicelib.gold.passes import DataFile, Keep, plan, read_pass
from chalicelib.gold.period_codes import ANNUAL_OF_KIND, EXPECTED, KIND, PERIODS, REGULAR
from chalicelib.gold.values import check_range, decimal_column, half_even_mean, open_data, text_column
from chalicelib.gold.writers import TableWriters

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PASS_ROWS = 2_000_000  # observations held at once (a pass's arrays take ~250 bytes per observation)
__all__ = ["PASS_ROWS", "BuildInputs", "BuildResult", "DataFile", "build_survey", "run_build"]


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


def build_survey(inputs: BuildInputs, out: dict[str, Path], *, pass_rows: int = PASS_ROWS) -> BuildResult:
    """Write the four tables of `inputs.survey` to the files `out[table]`; GoldFailed if it cannot."""
    mappings = {name: code_names(body, name) for name, body in inputs.mappings.items()}
    files = [(f, open_data(str(f.path))) for f in sorted(inputs.data_files, key=lambda f: f.name)]
    series_file = open_series(inputs.series_path)
    passes = plan(files, pass_rows)
    result = BuildResult(passes=len(passes))
    with TableWriters(out) as writers:
        for keep, groups in passes:
            frames = _one_pass(files, groups, keep, series_file, mappings)
            writers.put(frames)
        result.rows = writers.rows()
    return result


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


def _one_pass(files: list[tuple[DataFile, Any]], groups: list[list[int]], keep: Keep,
              series_file: Any, mappings: dict[str, dict[str, str]]) -> dict[str, pd.DataFrame]:
    import numpy as np
    import pandas as pd

    obs = read_pass(files, groups, keep)
    names, sid, year, pc, value = obs.names, obs.sid, obs.year, obs.pc, obs.value
    kind_of = np.array(KIND, np.int64)[pc] if len(pc) else np.empty(0, np.int64)
    regular_code = np.array(REGULAR, bool)[pc] if len(pc) else np.empty(0, bool)
    # per series (index s into the series present in this pass's data)
    s_starts = _starts(sid)
    s_of_row = _row_index(s_starts, len(sid))
    kinds = np.bitwise_or.reduceat(np.left_shift(1, kind_of), s_starts) if len(sid) else np.empty(0, np.int64)
    primary = np.select([kinds & 1 > 0, kinds & 2 > 0, kinds & 4 > 0], [0, 1, 2], 3)
    regular = regular_code & (kind_of == primary[s_of_row])
    annual_code = pc == np.array(ANNUAL_OF_KIND, np.int64)[primary[s_of_row]]
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
    expected = np.array(EXPECTED, np.int64)[primary[g_series]]
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
    catalog = catalog_rows(keep.mask, series_file, mappings, names, sid, year, pc, s_starts, regular)
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
        "series_id": text_column(names[g_sid[rows]]),
        "year": g_year[rows].astype(np.int32),
        "value": decimal_column(values),
        "basis": text_column(basis),
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
        "series_id": text_column(names[sid[rows]]),
        "year": year[rows].astype(np.int32),
        "period": text_column(np.array(PERIODS, dtype=object)[pc[rows]] if len(rows) else []),
        "value": decimal_column(latest_value),
        "year_ago_value": decimal_column(year_ago, found),
        "change": decimal_column(np.where(found, change, zero) if len(rows) else change, found),
        "pct_change": pct,
    })


def run_build(inputs: BuildInputs, folder: Path, *, pass_rows: int = PASS_ROWS,
              build: Callable[..., BuildResult] = build_survey) -> tuple[dict[str, Path], BuildResult]:
    """`build_survey` into `folder/<table>.parquet`; the paths and the result."""
    out = {table: folder / f"{table}.parquet" for table in tables.TABLES}
    return out, build(inputs, out, pass_rows=pass_rows)
