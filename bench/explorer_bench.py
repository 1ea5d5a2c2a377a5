"""The explorer's series search on a survey of 100,000 series (issue 20): cold and warm answer times.

A generated gold catalog and latest table (100,000 series with LABSTAT-like titles, written with
the silver Parquet writer) in a local store; `GET /api/surveys/{survey}/series?q=...&limit=...`
through Chalice's test client (routing, validation, JSON included). Cold = the first request of
the process (reads and indexes the catalog); warm = later requests (one HEAD, then the cached
index). Goal: warm under 1 s.

    .venv/bin/python bench/explorer_bench.py [--series 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from chalicelib.core.store import LocalStore  # noqa: E402
from chalicelib.gold import tables  # noqa: E402
from chalicelib.lake.parquet import Decimal, write_parquet  # noqa: E402
from chalicelib.lake.tables import VALUE_PRECISION, VALUE_SCALE  # noqa: E402

AREAS = ["U.S. city average", "Northeast", "Midwest", "South", "West", "New York-Newark", "Los Angeles-Long Beach",
         "Chicago-Naperville", "Houston-The Woodlands", "Size Class A", "Size Class B/C"]
ITEMS = ["All items", "Food", "Food at home", "Cereals and bakery products", "Gasoline (all types)", "Energy",
         "Shelter", "Rent of primary residence", "Apparel", "New vehicles", "Used cars and trucks", "Medical care",
         "Airline fares", "Motor fuel", "Electricity", "Utility (piped) gas service", "Tobacco and smoking products"]
QUERIES = ["gasoline", "food at home", "chicago energy", "all items u.s. city average seasonally adjusted",
           "ZZU0000042", "", "no such words anywhere"]


def write(store: LocalStore, survey: str, count: int) -> None:
    rng = random.Random(20)
    ids = [f"ZZ{'S' if i % 2 else 'U'}{i:08d}" for i in range(count)]
    titles = [f"{rng.choice(ITEMS)} in {rng.choice(AREAS)}, {'seasonally adjusted' if i % 2 else 'not seasonally adjusted'}"
              f" · item {i % 997}" for i in range(count)]
    decimals = Decimal(VALUE_PRECISION, VALUE_SCALE)
    catalog = pd.DataFrame({
        "series_id": ids, "title": titles, "seasonal": ["S" if i % 2 else "U" for i in range(count)],
        "periodicity": "monthly", "begin_year": np.full(count, 1990, np.int32), "begin_period": "M01",
        "end_year": np.full(count, 2026, np.int32), "end_period": "M06", "codes": "{}",
    })
    values = np.array([rng.randrange(10**6, 10**9) for _ in range(count)], dtype=np.int64)
    latest = pd.DataFrame({
        "series_id": ids, "year": np.full(count, 2026, np.int32), "period": "M06",
        "value": pd.array(values, dtype="Int64"), "year_ago_value": pd.array(values - 1000, dtype="Int64"),
        "change": pd.array(np.full(count, 1000), dtype="Int64"), "pct_change": 1000 / (values - 1000) * 100,
    })
    for table, frame, decimal_columns in ((tables.SERIES_CATALOG, catalog, ()),
                                          (tables.SERIES_LATEST, latest, ("value", "year_ago_value", "change"))):
        out = io.BytesIO()
        write_parquet(out, [frame], {name: decimals for name in decimal_columns})
        store.put(tables.partition_key(table, survey), out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory() as folder:
        store = LocalStore(folder)
        started = time.perf_counter()
        write(store, "zz", args.series)
        size = store.head(tables.partition_key(tables.SERIES_CATALOG, "zz")).size
        print(f"catalog: {args.series:,} series, {size / 2**20:.1f} MiB Parquet, written in "
              f"{time.perf_counter() - started:.1f} s")
        os.environ["DATA_STORE"] = folder
        os.environ.pop("API_AUTH", None)
        from chalice.test import Client

        from app import app

        with Client(app, stage_name="bench", project_dir=str(REPO)) as client:
            print("| query | limit | matches | cold s | warm median s | warm max s |")
            print("|---|---:|---:|---:|---:|---:|")
            first = True
            for query in QUERIES:
                for limit in (50, 1000):
                    path = f"/api/surveys/zz/series?q={query.replace(' ', '+')}&limit={limit}"
                    times = []
                    for _ in range(args.repeat + 1):
                        t0 = time.perf_counter()
                        response = client.http.get(path)
                        times.append(time.perf_counter() - t0)
                        assert response.status_code == 200, response.body[:300]
                    import json

                    total = json.loads(response.body)["total"]
                    cold = f"{times[0]:.3f}" if first else "-"
                    first = False
                    warm = times[1:]
                    print(f"| `{query or '(none)'}` | {limit} | {total:,} | {cold} | {statistics.median(warm):.3f} "
                          f"| {max(warm):.3f} |")


if __name__ == "__main__":
    main()
