"""Benchmark the silver layer on a large BLS data file (see bench/README.md, "Silver layer").

    python bench/lake_bench.py [--mb 520] [--data FILE] [--keep] [--only convert]

Generates a BLS-format file (bench/generate_bls.py) and measures, each step in a fresh
process (wall time = process start to result, imports included; CPU time and peak RSS from
`getrusage(RUSAGE_CHILDREN)` of a meter process whose only child is the step):

- convert/project: `chalicelib.lake.sync.sync_source` on a local store (parse, write the
  Parquet to a temp file, store it) — what the lake Lambda runs;
- convert/duckdb: DuckDB's `COPY (SELECT … FROM read_csv(…)) TO '….parquet'` with the same
  columns and types (trimmed texts, INTEGER year, DECIMAL(24,6) value, ZSTD);
- best-year/silver: the report SQL (`chalicelib/lake/queries/best_years.sql`) on DuckDB over
  the silver layer; best-year/tsv: the same SQL on DuckDB over the TSV (a view doing the
  trims and casts); best-year/report: the pandas report's computation
  (`chalicelib.reports.scan.scan_data`). The three results are compared series by series.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from chalicelib.core.layout import DEFAULT_REPORT_DATA_KEY as KEY  # noqa: E402  the report's data file

STEPS = ("convert/project", "convert/duckdb", "best-year/silver", "best-year/tsv", "best-year/report")
TSV_VIEW = """
    CREATE VIEW bls_data AS
    SELECT trim(series_id) AS series_id, CAST(trim("year") AS INTEGER) AS "year", trim(period) AS period,
           CAST(trim(value) AS DECIMAL(24, 6)) AS value, nullif(trim(footnote_codes), '') AS footnote_codes,
           'pr' AS survey, 'pr.data.0.Current' AS file
    FROM read_csv('{path}', delim = '\t', header = true, all_varchar = true, auto_detect = false,
                  columns = {{'series_id': 'VARCHAR', 'year': 'VARCHAR', 'period': 'VARCHAR',
                              'value': 'VARCHAR', 'footnote_codes': 'VARCHAR'}})
"""


def step(name: str, store: str, tsv: str, out: str) -> None:
    """Run one step (in its own process); write its result (rows, size) to `out`."""
    sys.path.insert(0, str(ROOT))
    result: dict[str, object] = {}
    if name == "convert/project":
        from chalicelib.core.store import LocalStore
        from chalicelib.lake.sync import sync_source

        done = sync_source(LocalStore(store), KEY, tmp_dir=str(Path(store).parent))
        result = {"rows": done.rows, "bytes": os.path.getsize(Path(store) / done.partition)}
    elif name == "convert/duckdb":
        import duckdb

        target = Path(store).parent / "duckdb.parquet"
        connection = duckdb.connect()
        connection.execute(TSV_VIEW.format(path=tsv))
        connection.execute(f"COPY (SELECT series_id, \"year\", period, value, footnote_codes FROM bls_data) "
                           f"TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        result = {"bytes": target.stat().st_size}
    elif name.startswith("best-year/"):
        result = {"rows": best_years(name.split("/")[1], store, tsv)}
    Path(out).write_text(json.dumps(result))


def best_years(how: str, store: str, tsv: str) -> list[list[str]]:
    from chalicelib.core.settings import Settings
    from chalicelib.lake.queries import report_queries

    sql = report_queries(Settings())["best_years"]
    if how == "report":
        from chalicelib.bls.data_file import BlsDataReader
        from chalicelib.reports.scan import scan_data

        with open(tsv, "rb") as stream:
            scan = scan_data(BlsDataReader(stream, source=tsv))
        return [[r.series_id, r.year, repr(r.value)] for r in scan.best_years]
    if how == "silver":
        from workstation.query import run_query

        rows = run_query(store, sql).rows
    else:
        import duckdb

        connection = duckdb.connect()
        connection.execute(TSV_VIEW.format(path=tsv))
        rows = connection.execute(sql).fetchall()
    return [[series, year, str(value)] for series, year, value in rows]


def meter(name: str, store: str, tsv: str, out: str) -> None:
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--step", name, store, tsv, out], check=True)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024}))


def measure(name: str, store: Path, tsv: Path, folder: Path) -> dict[str, object]:
    out = folder / (name.replace("/", "-") + ".json")
    done = subprocess.run([sys.executable, __file__, "--meter", name, str(store), str(tsv), str(out)],
                          check=True, capture_output=True, text=True)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), **json.loads(out.read_text())}


def prepare_store(folder: Path, tsv: Path) -> Path:
    """A local store holding the file as the mirror would (with its SHA-256), without the silver layer."""
    sys.path.insert(0, str(ROOT))
    import hashlib

    from chalicelib.core.store import LocalStore

    store = LocalStore(folder / "store")
    digest = hashlib.sha256()
    with open(tsv, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    with open(tsv, "rb") as stream:
        store.put(KEY, stream, metadata={"sha256": digest.hexdigest()})
    return store.root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=520.0, help="size of the generated file in MiB (default 520)")
    parser.add_argument("--data", type=Path, help="use this BLS data file instead of generating one")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--only", choices=("convert",), help="only the conversions (e.g. for a 4 GB file)")
    parser.add_argument("--step", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--meter", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step(*args.step)
        return 0
    if args.meter:
        meter(*args.meter)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="lake-bench-"))
    try:
        tsv = args.data
        if tsv is None:
            sys.path.insert(0, str(HERE))
            from generate_bls import generate

            tsv = folder / "pr.data.0.Current"
            print(f"generating {tsv} ({args.mb:.0f} MiB) ...", file=sys.stderr)
            generate(tsv, args.mb)
        store = prepare_store(folder, tsv)
        if tsv.parent == folder:
            tsv.unlink()  # the store holds a copy: one less file on disk
            tsv = store / KEY
        steps = [s for s in STEPS if not args.only or s.startswith(args.only)]
        results = {}
        for name in steps:
            print(f"running {name} ...", file=sys.stderr)
            results[name] = measure(name, store, tsv, folder)
        size = tsv.stat().st_size
        print(f"\nSilver layer on a {size / 2**20:.0f} MiB BLS data file ({os.cpu_count()} CPUs; "
              f"load average {os.getloadavg()[0]:.1f})\n")
        print("| step | tool | wall time (s) | CPU time (s) | peak RSS (MiB) | output |")
        print("|---|---|---:|---:|---:|---|")
        for name, result in results.items():
            what, tool = name.split("/")
            if what == "convert":
                output = f"{result['bytes'] / 2**20:.1f} MiB Parquet ({result['bytes'] / size:.1%} of the TSV)"
            else:
                output = f"{len(result['rows']):,} series"
            print(f"| {what} | {tool} | {result['seconds']:.2f} | {result['cpu']:.2f} | {result['peak_mib']:.0f} "
                  f"| {output} |")
        best = {k.split("/")[1]: {r[0]: (r[1], Decimal(r[2]).normalize()) for r in v["rows"]}
                for k, v in results.items() if k.startswith("best-year/")}
        if "report" in best:
            for how, rows in best.items():
                differs = sum(1 for s in rows.keys() | best["report"].keys() if rows.get(s) != best["report"].get(s))
                print(f"\nbest-year/{how}: {differs} series differ from the pandas report", end="")
            print()
        return 0
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
