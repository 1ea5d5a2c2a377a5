"""Benchmark the best-year computation on a large BLS file: this project vs plain pandas vs DuckDB.

`project` is the best-year pass alone (`scan_data`); `analyze` is `bls-pipeline analyze`'s work
(`run_reports`: the three reports computed and written to a local store holding the file).

    python bench/reports_bench.py [--mb 520] [--data FILE] [--keep]

Method, implementations and the measured table: bench/README.md ("Reports").
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
QUARTERS = ("Q01", "Q02", "Q03", "Q04")
IMPLEMENTATIONS = ("project", "analyze", "pandas", "duckdb")
POPULATION = ROOT / "tests" / "fixtures" / "datausa" / "population_acs1_nation_newapi_tejalk14_2025-10.json"


# ---------------------------------------------------------------------- the implementations


def run_project(path: str) -> list[tuple[str, int, str]]:
    sys.path.insert(0, str(ROOT))
    from chalicelib.bls.data_file import BlsDataReader
    from chalicelib.reports.scan import scan_data

    with open(path, "rb") as stream:
        scan = scan_data(BlsDataReader(stream, source=path))
    return [(row.series_id, row.year, repr(row.value)) for row in scan.best_years]


def run_analyze(store_root: str) -> list[tuple[str, int, str]]:
    sys.path.insert(0, str(ROOT))
    from chalicelib.core.settings import Settings
    from chalicelib.core.store import LocalStore
    from chalicelib.reports.run import run_reports

    result = run_reports(Settings(), LocalStore(store_root))  # the default data key: pr.data.0.Current
    assert result.written, "the reports were not written"
    return [(row.series_id, row.year, repr(row.value)) for row in result.best_years.series]


def analyze_store(path: Path, folder: Path) -> Path:
    """A local store holding the data file (as the mirror leaves it) and a population (setup: not timed)."""
    sys.path.insert(0, str(ROOT))
    from chalicelib.core.layout import DEFAULT_REPORT_DATA_KEY, POPULATION_KEY
    from chalicelib.core.store import LocalStore

    root = folder / "store"
    store = LocalStore(root)
    with store.upload(DEFAULT_REPORT_DATA_KEY) as upload, open(path, "rb") as stream:
        while chunk := stream.read(8 * 1024 * 1024):
            upload.write(chunk)
        upload.commit()
    store.put(POPULATION_KEY, POPULATION.read_bytes(), content_type="application/json")
    return root


def run_pandas(path: str) -> list[tuple[str, int, str]]:
    import pandas as pd

    frame = pd.read_csv(path, sep="\t", dtype={"series_id": str, "period": str, "footnote_codes": str})
    frame.columns = frame.columns.str.strip()
    frame["series_id"] = frame["series_id"].str.strip()
    frame["period"] = frame["period"].str.strip()
    quarterly = frame[frame["period"].isin(QUARTERS)]
    sums = quarterly.groupby(["series_id", "year"])["value"].sum()
    best = sums.loc[sums.groupby(level="series_id").idxmax()]
    return [(series_id, int(year), f"{value:.3f}") for (series_id, year), value in best.items()]


def run_duckdb(path: str) -> list[tuple[str, int, str]]:
    import duckdb

    # Exact DECIMAL sums; ties go to the earliest year: arg_max over (total, -year).
    query = f"""
        WITH sums AS (
            SELECT series_id, CAST(year AS INTEGER) AS year, SUM(CAST(trim(value) AS DECIMAL(18, 3))) AS total
            FROM read_csv('{path}', delim = '\t', header = true, all_varchar = true)
            WHERE trim(period) IN ('Q01', 'Q02', 'Q03', 'Q04')
            GROUP BY series_id, year
        )
        SELECT trim(series_id), arg_max(year, (total, -year)), max(total)
        FROM sums GROUP BY series_id ORDER BY 1
    """
    connection = duckdb.connect()
    return [(series_id, year, str(total)) for series_id, year, total in connection.execute(query).fetchall()]


# ---------------------------------------------------------------------- measuring


def worker(implementation: str, path: str, out: str) -> None:
    """Run one implementation (in its own process) and save its result."""
    run = {"project": run_project, "analyze": run_analyze, "pandas": run_pandas, "duckdb": run_duckdb}[implementation]
    rows = run(path)
    Path(out).write_text(json.dumps(rows))


def meter(implementation: str, path: str, out: str) -> None:
    """A fresh process whose only child is the worker: its RUSAGE_CHILDREN is the worker's peak."""
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--worker", implementation, path, out], check=True)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024}))


def measure(implementation: str, path: Path, folder: Path) -> dict[str, object]:
    out = folder / f"{implementation}.json"
    done = subprocess.run(
        [sys.executable, __file__, "--meter", implementation, str(path), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["rows"] = {series: (year, Decimal(value).normalize()) for series, year, value in json.loads(out.read_text())}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=520.0, help="size of the generated file in MiB (default 520)")
    parser.add_argument("--data", type=Path, help="use this BLS data file instead of generating one")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (and the generated file)")
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "FILE", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--meter", nargs=3, metavar=("IMPL", "FILE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return 0
    if args.meter:
        meter(*args.meter)
        return 0

    folder = Path(tempfile.mkdtemp(prefix="reports-bench-"))
    try:
        if args.data:
            path = args.data
        else:
            sys.path.insert(0, str(HERE))
            from generate_bls import generate

            path = folder / "bench.data.0.Current"
            print(f"generating {path} ({args.mb:.0f} MiB) ...", file=sys.stderr)
            generate(path, args.mb)
        size_mib = path.stat().st_size / 1024 / 1024
        results = {}
        for implementation in IMPLEMENTATIONS:
            print(f"running {implementation} ...", file=sys.stderr)
            source = analyze_store(path, folder) if implementation == "analyze" else path
            results[implementation] = measure(implementation, source, folder)
        reference = results["project"]["rows"]
        print(f"\nBest year per series on a {size_mib:.0f} MiB BLS file ({len(reference):,} series; "
              f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f})\n")
        print("| implementation | wall time (s) | peak RSS (MiB) | series | differs from project |")
        print("|---|---:|---:|---:|---:|")
        for implementation, result in results.items():
            rows = result["rows"]
            differs = sum(1 for series in reference.keys() | rows.keys() if reference.get(series) != rows.get(series))
            print(
                f"| {implementation} | {result['seconds']:.2f} | {result['peak_mib']:.0f} | "
                f"{len(rows):,} | {differs:,} |"
            )
        return 0
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
