"""The `series_catalog` rows of one pass: every series of the series file or the data, with its title,
seasonal code, periodicity, first and last period and its codes named through the mapping files.

`title` is the series file's own `series_title` where it has one, else built from the code columns
that have a mapping file (`<survey>.<code>`); a code without a mapping entry keeps its raw code,
and a series with nothing else is titled by its id — never an empty title. Periodicity and
begin/end come from the data where the series has observations, else from the series file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.bls.mappings import SEPARATOR
from chalicelib.gold import tables
from chalicelib.gold.period_codes import KIND, KIND_LETTERS, PERIOD_INDEX, PERIODS, periodicity
from chalicelib.gold.values import text_column

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Mask = Callable[[Iterable[str]], "np.ndarray"]  # which of the given series ids a pass holds


def open_series(path: Path | None) -> Any:
    """A reader of the survey's `bls_series` partition (None without one)."""
    if path is None:
        return None
    from fastparquet import ParquetFile

    return ParquetFile(str(path))


def _series_rows(series_file: Any, keep: Mask) -> pd.DataFrame:
    import pandas as pd

    columns = ["series_id", "series_title", "begin_year", "begin_period", "end_year", "end_period", "codes"]
    if series_file is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    frames = []
    for group in series_file.row_groups:
        frame = series_file.read_row_group_file(group, columns, categories=[])
        frames.append(frame[keep(frame["series_id"].astype(str))])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def catalog_rows(keep: Mask, series_file: Any, mappings: dict[str, dict[str, str]], names: np.ndarray,
                 sid: np.ndarray, year: np.ndarray, pc: np.ndarray, s_starts: np.ndarray,
                 regular: np.ndarray) -> pd.DataFrame:
    """The catalog rows of the series a pass holds (`keep`), sorted by id: those of the series file and
    those with observations in the pass (`names[sid]`, sorted by series, year, period; `s_starts` the
    first row of each series, `regular` its sub-annual rows; `mappings`: file name -> code -> text)."""
    import numpy as np
    import pandas as pd

    described = _series_rows(series_file, keep)
    by_id = {str(s): i for i, s in enumerate(described["series_id"].tolist())}
    # the data's view of each series in this pass: periodicity, first and last observation
    regular_kinds = np.bitwise_or.reduceat(np.where(regular | (pc == PERIOD_INDEX["A01"]),
                                                    np.left_shift(1, np.array(KIND, np.int64)[pc]), 0),
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
            rows["periodicity"].append(periodicity(int(regular_kinds[data_index]) or 0))
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
            rows["begin_period"].append(PERIODS[int(pc[first])])
            rows["end_year"].append(int(year[last]))
            rows["end_period"].append(PERIODS[int(pc[last])])
        else:
            for column in ("begin_year", "begin_period", "end_year", "end_period"):
                rows[column].append(None)
        rows["codes"].append(json.dumps(named, ensure_ascii=False, separators=(",", ":")))
    frame = pd.DataFrame({name: text_column(values) for name, values in rows.items()})
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


def _periodicity_of_text(described: pd.DataFrame, row: int | None) -> str | None:
    if row is None:
        return None
    letters = {str(described[c].iat[row] or "")[:1] for c in ("begin_period", "end_period")} - {""}
    kinds = sum(1 << KIND_LETTERS.index(letter) for letter in letters if letter in KIND_LETTERS)
    return periodicity(kinds) if kinds else None
