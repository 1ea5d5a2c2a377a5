"""Gold partitions for the explorer's tests, written with the silver Parquet writer by the tests'
own code (the gold builder is tested on its own): the expected values are computed here, with
Python's Decimal, from observations the test gives (or from a mirrored survey's TSV data files).

`gold_tables` follows the issue's definitions: periodicity from the period kinds present; annual
rows over the sub-annual periods (M01-M12, Q01-Q04, S01-S02) with the published annual value
(M13/Q05/S03/A01); the best year by the largest sub-annual sum (ties: earliest), or by the largest
annual value for annual-only series; the latest sub-annual observation and its change from the
same period a year earlier (pct_change in percent, NULL without an earlier value or at zero).
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd

from chalicelib.bls.mappings import series_titles
from chalicelib.core.store import Store
from chalicelib.gold import tables
from chalicelib.lake.parquet import Decimal as DecimalType
from chalicelib.lake.parquet import write_parquet
from chalicelib.lake.tables import VALUE_PRECISION, VALUE_SCALE

SUB_ANNUAL = {"M": 12, "Q": 4, "S": 2}
ANNUAL_PERIODS = {"M13", "Q05", "S03", "A01"}
KIND_NAMES = {"M": "monthly", "Q": "quarterly", "S": "semiannual", "A": "annual"}
UNIT = Decimal(1).scaleb(-VALUE_SCALE)


def is_sub_annual(period: str) -> bool:
    return period not in ANNUAL_PERIODS and period[0] in SUB_ANNUAL


@dataclass
class Series:
    """A series as the tests describe it: catalog fields and its observations (year, period, Decimal)."""

    series_id: str
    title: str
    observations: list[tuple[int, str, Decimal]]
    seasonal: str = "U"
    codes: dict[str, dict[str, str]] = field(default_factory=dict)


def scaled(value: Decimal | None) -> int | None:
    return None if value is None else int((value / UNIT).to_integral_value())


def text(value: Decimal | None) -> str | None:
    """The exact text the API answers for a decimal (plain, no trailing zeros)."""
    if value is None:
        return None
    out = format(value.quantize(UNIT).normalize(), "f")
    return "0" if out in ("-0", "0") else out


def periodicity(observations: Iterable[tuple[int, str, Decimal]]) -> str:
    kinds = {p[0] for _, p, _ in observations if is_sub_annual(p)}
    if not kinds:
        return "annual"
    return KIND_NAMES[kinds.pop()] if len(kinds) == 1 else "mixed"


def annual_rows(series: Series) -> list[dict]:
    by_year: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    for year, period, value in series.observations:
        by_year[year].append((period, value))
    rows = []
    for year in sorted(by_year):
        subs = [(p, v) for p, v in by_year[year] if is_sub_annual(p)]
        published = next((v for p, v in by_year[year] if p in ANNUAL_PERIODS), None)
        total = sum((v for _, v in subs), Decimal(0)) if subs else None
        mean = (total / len(subs)).quantize(UNIT, ROUND_HALF_EVEN) if subs else None
        expected = SUB_ANNUAL.get(subs[0][0][0], 0) if subs else 0
        rows.append({"year": year, "periods": len(subs), "value_sum": total, "value_mean": mean,
                     "published_annual": published, "complete": bool(subs) and len({p for p, _ in subs}) == expected})
    return rows


def best_year(series: Series) -> dict | None:
    rows = annual_rows(series)
    sums = [(r["value_sum"], r["year"]) for r in rows if r["value_sum"] is not None]
    if sums:
        value, year = max(sums, key=lambda s: (s[0], -s[1]))
        return {"year": year, "value": value, "basis": "sub-annual sum"}
    annual = [(r["published_annual"], r["year"]) for r in rows if r["published_annual"] is not None]
    if annual:
        value, year = max(annual, key=lambda s: (s[0], -s[1]))
        return {"year": year, "value": value, "basis": "annual"}
    return None


def latest(series: Series) -> dict | None:
    subs = {(y, p): v for y, p, v in series.observations if is_sub_annual(p)}
    if not subs:
        return None
    year, period = max(subs)
    value = subs[(year, period)]
    ago = subs.get((year - 1, period))
    change = None if ago is None else value - ago
    pct = None if ago in (None, 0) else float(change / ago * 100)
    return {"year": year, "period": period, "value": value, "year_ago_value": ago, "change": change,
            "pct_change": pct}


def gold_tables(series: list[Series]) -> dict[str, pd.DataFrame]:
    """The four gold tables of these series, as frames ready for the Parquet writer."""
    catalog, annual, best, last = [], [], [], []
    for s in sorted(series, key=lambda s: s.series_id):
        obs = sorted(s.observations)
        catalog.append({"series_id": s.series_id, "title": s.title, "seasonal": s.seasonal,
                        "periodicity": periodicity(obs),
                        "begin_year": obs[0][0] if obs else 0, "begin_period": obs[0][1] if obs else "",
                        "end_year": obs[-1][0] if obs else 0, "end_period": obs[-1][1] if obs else "",
                        "codes": json.dumps(s.codes, sort_keys=True)})
        for row in annual_rows(s):
            annual.append({"series_id": s.series_id, **row})
        if (b := best_year(s)) is not None:
            best.append({"series_id": s.series_id, **b})
        if (lt := latest(s)) is not None:
            last.append({"series_id": s.series_id, **lt})
    return {
        tables.SERIES_CATALOG: _frame(catalog, tables.SERIES_CATALOG),
        tables.SERIES_ANNUAL: _frame(annual, tables.SERIES_ANNUAL),
        tables.SERIES_BEST_YEAR: _frame(best, tables.SERIES_BEST_YEAR),
        tables.SERIES_LATEST: _frame(last, tables.SERIES_LATEST),
    }


def _frame(rows: list[dict], table: str) -> pd.DataFrame:
    columns = {}
    for name, kind in tables.COLUMNS[table]:
        values = [r[name] for r in rows]
        if kind.startswith("decimal"):
            columns[name] = pd.array([scaled(v) for v in values], dtype="Int64")
        elif kind == "int":
            columns[name] = np.array(values, dtype=np.int32)
        elif kind == "double":
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        elif kind == "boolean":
            columns[name] = np.array(values, dtype=bool)
        else:
            columns[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)


def write_gold(store: Store, survey: str, series: list[Series]) -> dict[str, pd.DataFrame]:
    """Write the survey's four gold partitions; return the frames written."""
    frames = gold_tables(series)
    for table, frame in frames.items():
        decimals = {name: DecimalType(VALUE_PRECISION, VALUE_SCALE)
                    for name, kind in tables.COLUMNS[table] if kind.startswith("decimal")}
        out = io.BytesIO()
        write_parquet(out, [frame], decimals)
        store.put(tables.partition_key(table, survey), out.getvalue())
    return frames


def series_from_tsv(store: Store, survey: str) -> list[Series]:
    """The survey's series from its mirrored data files (`<survey>.data.*`, the first file by name wins
    where they overlap) with the titles the dashboard shows."""
    titles = series_titles(store, survey)
    observations: dict[str, dict[tuple[int, str], Decimal]] = defaultdict(dict)
    for info in store.list(f"bls/{survey}/{survey}.data."):
        for line in store.read(info.key).body.decode().splitlines()[1:]:
            parts = [p.strip() for p in line.split("\t")]
            if len(parts) < 4 or not parts[3] or parts[3] == "-":
                continue
            observations[parts[0]].setdefault((int(parts[1]), parts[2]), Decimal(parts[3]))
    return [Series(sid, titles.get(sid, sid), [(y, p, v) for (y, p), v in sorted(obs.items())])
            for sid, obs in observations.items()]
