"""Benchmark the gold layer on a large BLS data file against DuckDB (see bench/README.md, "Gold layer").

    python bench/gold_bench.py [--mb 520] [--data FILE] [--keep]

Generates a BLS-format file (bench/generate_bls.py), converts it to silver once (not timed:
`bench/lake_bench.py` measures that), then measures, each step in a fresh process (wall time =
process start to result, imports included; CPU time and peak RSS from `getrusage(RUSAGE_CHILDREN)`
of a meter process whose only child is the step):

- gold/project: `chalicelib.gold.sync.sync_survey` on a local store — the four tables of the survey
  from its silver partition, written to temp files and stored (what the lake Lambda's gold step runs);
- gold/duckdb: DuckDB computing the same four tables from the same silver Parquet with SQL and
  `COPY … TO` Parquet files (default settings: all cores, its own memory limit).
Then the best years of both are compared series by series (year and exact value).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
from lake_bench import KEY, prepare_store  # noqa: E402

STEPS = ("gold/project", "gold/duckdb")
SURVEY = KEY.split("/")[1]

DUCKDB_SQL = """
CREATE VIEW obs AS SELECT series_id, "year", period, "value", substr(period, 1, 1) AS k
    FROM read_parquet('{silver}/bls_data/survey={survey}/*/data.parquet');
CREATE TABLE kinds AS SELECT series_id,
    CASE WHEN bool_or(k = 'M') THEN 'M' WHEN bool_or(k = 'Q') THEN 'Q' WHEN bool_or(k = 'S') THEN 'S' ELSE 'A' END AS kind
    FROM obs GROUP BY series_id;
CREATE TABLE marked AS SELECT o.series_id, o."year", o.period, o."value",
    (o.k = kd.kind AND kd.kind <> 'A' AND o.period NOT IN ('M13', 'Q05', 'S03')) AS regular,
    o.period = CASE kd.kind WHEN 'M' THEN 'M13' WHEN 'Q' THEN 'Q05' WHEN 'S' THEN 'S03' ELSE 'A01' END AS annual,
    kd.kind
    FROM obs o JOIN kinds kd USING (series_id);
CREATE TABLE series_annual AS SELECT series_id, "year",
    count(*) FILTER (WHERE regular)::INTEGER AS periods,
    sum("value") FILTER (WHERE regular)::DECIMAL(18, 6) AS value_sum,
    round(avg("value") FILTER (WHERE regular), 6)::DECIMAL(18, 6) AS value_mean,
    max("value") FILTER (WHERE annual) AS published_annual,
    CASE any_value(kind) WHEN 'M' THEN count(*) FILTER (WHERE regular) = 12
        WHEN 'Q' THEN count(*) FILTER (WHERE regular) = 4 WHEN 'S' THEN count(*) FILTER (WHERE regular) = 2
        ELSE bool_or(annual) END AS complete
    FROM marked GROUP BY series_id, "year"
    HAVING count(*) FILTER (WHERE regular) > 0 OR bool_or(annual);
CREATE TABLE series_best_year AS
    SELECT series_id, "year", value_sum AS "value", 'sub-annual sum' AS basis FROM series_annual WHERE periods > 0
        QUALIFY row_number() OVER (PARTITION BY series_id ORDER BY value_sum DESC, "year") = 1
    UNION ALL
    SELECT series_id, "year", published_annual, 'annual' FROM series_annual a
        WHERE NOT EXISTS (SELECT 1 FROM series_annual b WHERE b.series_id = a.series_id AND b.periods > 0)
        QUALIFY row_number() OVER (PARTITION BY series_id ORDER BY published_annual DESC, "year") = 1;
CREATE TABLE series_latest AS
    WITH has_regular AS (SELECT series_id, bool_or(regular) AS r FROM marked GROUP BY series_id),
    observed AS (SELECT m.* FROM marked m JOIN has_regular h USING (series_id) WHERE m.regular OR (m.annual AND NOT h.r)),
    latest AS (SELECT * FROM observed QUALIFY row_number() OVER (PARTITION BY series_id ORDER BY "year" DESC, period DESC) = 1)
    SELECT l.series_id, l."year", l.period, l."value", p."value" AS year_ago_value, l."value" - p."value" AS change,
        CASE WHEN p."value" <> 0 THEN (l."value" - p."value") / p."value" * 100 END::DOUBLE AS pct_change
    FROM latest l LEFT JOIN marked p ON p.series_id = l.series_id AND p."year" = l."year" - 1 AND p.period = l.period;
CREATE TABLE series_catalog AS SELECT series_id, series_id AS title, NULL AS seasonal,
    CASE kind WHEN 'M' THEN 'monthly' WHEN 'Q' THEN 'quarterly' WHEN 'S' THEN 'semiannual' ELSE 'annual' END AS periodicity
    FROM kinds;
"""


def step(name: str, store: str, out: str) -> None:
    """Run one step (in its own process); write its best years to `out`."""
    result: dict[str, object] = {}
    folder = Path(store).parent
    if name == "gold/project":
        from chalicelib.core.store import LocalStore
        from chalicelib.gold.sync import sync_survey

        done = sync_survey(LocalStore(store), SURVEY, tmp_dir=str(folder))
        result = {"rows": done.rows, "passes": done.passes,
                  "best": _best(Path(store) / f"gold/series_best_year/survey={SURVEY}/data.parquet")}
    else:
        import duckdb

        target = folder / "duckdb-gold"
        target.mkdir(exist_ok=True)
        connection = duckdb.connect()
        connection.execute(DUCKDB_SQL.format(silver=Path(store) / "silver", survey=SURVEY))
        rows = {}
        for table in ("series_catalog", "series_annual", "series_best_year", "series_latest"):
            connection.execute(f"COPY {table} TO '{target / table}.parquet' (FORMAT parquet, COMPRESSION zstd)")
            rows[table] = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        result = {"rows": rows, "best": _best(target / "series_best_year.parquet")}
    Path(out).write_text(json.dumps(result))


def meter(command: list[str]) -> None:
    """Run `command`; print its wall time, CPU time and peak RSS (this process's only child)."""
    import resource
    import time

    started = time.perf_counter()
    subprocess.run(command, check=True)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": time.perf_counter() - started, "cpu": usage.ru_utime + usage.ru_stime,
                      "peak_mib": usage.ru_maxrss / 1024}))


def measure_child(command: list[str], folder: Path, name: str) -> dict[str, object]:
    out = folder / (name.replace("/", "-") + ".json")
    done = subprocess.run([sys.executable, __file__, "--meter", *command, str(out)], check=True,
                          capture_output=True, text=True)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), **json.loads(out.read_text())}


def _best(path: Path) -> dict[str, list[str]]:
    import duckdb

    rows = duckdb.connect().execute(f"SELECT series_id, \"year\", \"value\" FROM read_parquet('{path}')").fetchall()
    return {s: [int(y), str(Decimal(v).normalize())] for s, y, v in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=520.0, help="size of the generated file in MiB (default 520)")
    parser.add_argument("--data", type=Path, help="use this BLS data file instead of generating one")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--step", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--meter", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step(*args.step)
        return 0
    if args.meter:
        meter(args.meter)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="gold-bench-"))
    try:
        tsv = args.data
        if tsv is None:
            from generate_bls import generate

            tsv = folder / "pr.data.0.Current"
            print(f"generating {tsv} ({args.mb:.0f} MiB) ...", file=sys.stderr)
            generate(tsv, args.mb)
        store = prepare_store(folder, tsv)
        size = tsv.stat().st_size
        if tsv.parent == folder:
            tsv.unlink()
        print("converting to silver (not timed) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                        "from chalicelib.core.store import LocalStore; from chalicelib.lake.sync import sync_source;"
                        "sync_source(LocalStore(sys.argv[2]), sys.argv[3], tmp_dir=sys.argv[4])",
                        str(ROOT), str(store), KEY, str(folder)], check=True)
        results = {}
        for name in STEPS:
            print(f"running {name} ...", file=sys.stderr)
            results[name] = measure_child([sys.executable, __file__, "--step", name, str(store)], folder, name)
        print(f"\nGold layer on a {size / 2**20:.0f} MiB BLS data file ({os.cpu_count()} CPUs; "
              f"load average {os.getloadavg()[0]:.1f})\n")
        print("| step | tool | wall time (s) | CPU time (s) | peak RSS (MiB) | rows (catalog / annual / best / latest) |")
        print("|---|---|---:|---:|---:|---|")
        for name, result in results.items():
            what, tool = name.split("/")
            rows = result["rows"]
            counts = " / ".join(f"{rows[t]:,}" for t in ("series_catalog", "series_annual", "series_best_year",
                                                          "series_latest"))
            print(f"| {what} | {tool} | {result['seconds']:.2f} | {result['cpu']:.2f} | {result['peak_mib']:.0f} "
                  f"| {counts} |")
        ours, theirs = results["gold/project"]["best"], results["gold/duckdb"]["best"]
        differs = sum(1 for s in ours.keys() | theirs.keys() if ours.get(s) != theirs.get(s))
        print(f"\nbest years: {len(ours):,} series, {differs} differ between the project and DuckDB")
        return 0
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
