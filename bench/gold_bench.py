"""Benchmark the gold layer on a large BLS data file against DuckDB (see bench/README.md, "Gold layer").

    python bench/gold_bench.py [--mb 520 | --data FILE | --tree 62] [--reuse KEPT] [--only STEP]
                               [--duckdb-memory-limit 4GB] [--keep]

Generates a BLS-format file (bench/generate_bls.py) — or, with `--tree N`, the data files of the
every-survey tree (bench/every_survey_bench.py's plan, N surveys, BLS rows) — in a local store, builds
silver once as `bls-pipeline lake` does (not timed: `bench/lake_bench.py` measures that), then measures,
each step in a fresh process (wall time = process start to result, imports included; CPU time and peak
RSS from `getrusage(RUSAGE_CHILDREN)` of a meter process whose only child is the step; peak TMPDIR = the
step's own work folder, polled: see bench/common.py):

- gold/project: `chalicelib.gold.sync.reconcile` on the local store — every survey's four tables from its
  silver partitions, written to temp files and stored (what `bls-pipeline lake` runs; the lake Lambda's gold
  step runs `sync_survey`, the same per survey);
- gold/duckdb: DuckDB computing the same four tables from the same silver Parquet with SQL (`DUCKDB_SQL`,
  keyed by survey; overlapping data files resolved as the project does in tree mode) and `COPY … TO`
  Parquet files partitioned by survey (default settings: all cores, its own memory limit).
Then both are compared: row counts of the four tables, and the best year of every series (year and exact value).
"""

from __future__ import annotations

import argparse
import hashlib
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
from common import load_average, measure  # noqa: E402
from lake_bench import KEY, prepare_store  # noqa: E402

STEPS = ("gold/project", "gold/duckdb")
SURVEY = KEY.split("/")[1]

DUCKDB_SQL = """
CREATE VIEW obs AS SELECT survey, series_id, "year", period, "value", substr(period, 1, 1) AS k
    FROM read_parquet('{silver}/bls_data/survey={survey}/*/data.parquet', hive_partitioning = true)
    {dedupe};
CREATE TABLE kinds AS SELECT survey, series_id,
    CASE WHEN bool_or(k = 'M') THEN 'M' WHEN bool_or(k = 'Q') THEN 'Q' WHEN bool_or(k = 'S') THEN 'S' ELSE 'A' END AS kind
    FROM obs GROUP BY survey, series_id;
CREATE TABLE marked AS SELECT o.survey, o.series_id, o."year", o.period, o."value",
    (o.k = kd.kind AND kd.kind <> 'A' AND o.period NOT IN ('M13', 'Q05', 'S03')) AS regular,
    o.period = CASE kd.kind WHEN 'M' THEN 'M13' WHEN 'Q' THEN 'Q05' WHEN 'S' THEN 'S03' ELSE 'A01' END AS annual,
    kd.kind
    FROM obs o JOIN kinds kd USING (survey, series_id);
CREATE TABLE series_annual AS SELECT survey, series_id, "year",
    count(*) FILTER (WHERE regular)::INTEGER AS periods,
    sum("value") FILTER (WHERE regular)::DECIMAL(18, 6) AS value_sum,
    round(avg("value") FILTER (WHERE regular), 6)::DECIMAL(18, 6) AS value_mean,
    max("value") FILTER (WHERE annual) AS published_annual,
    CASE any_value(kind) WHEN 'M' THEN count(*) FILTER (WHERE regular) = 12
        WHEN 'Q' THEN count(*) FILTER (WHERE regular) = 4 WHEN 'S' THEN count(*) FILTER (WHERE regular) = 2
        ELSE bool_or(annual) END AS complete
    FROM marked GROUP BY survey, series_id, "year"
    HAVING count(*) FILTER (WHERE regular) > 0 OR bool_or(annual);
CREATE TABLE series_best_year AS
    SELECT survey, series_id, "year", value_sum AS "value", 'sub-annual sum' AS basis FROM series_annual
        WHERE periods > 0
        QUALIFY row_number() OVER (PARTITION BY survey, series_id ORDER BY value_sum DESC, "year") = 1
    UNION ALL
    SELECT survey, series_id, "year", published_annual, 'annual' FROM series_annual a
        WHERE NOT EXISTS (SELECT 1 FROM series_annual b
                          WHERE b.survey = a.survey AND b.series_id = a.series_id AND b.periods > 0)
        QUALIFY row_number() OVER (PARTITION BY survey, series_id ORDER BY published_annual DESC, "year") = 1;
CREATE TABLE series_latest AS
    WITH has_regular AS (SELECT survey, series_id, bool_or(regular) AS r FROM marked GROUP BY survey, series_id),
    observed AS (SELECT m.* FROM marked m JOIN has_regular h USING (survey, series_id)
                 WHERE m.regular OR (m.annual AND NOT h.r)),
    latest AS (SELECT * FROM observed
               QUALIFY row_number() OVER (PARTITION BY survey, series_id ORDER BY "year" DESC, period DESC) = 1)
    SELECT l.survey, l.series_id, l."year", l.period, l."value", p."value" AS year_ago_value,
        l."value" - p."value" AS change,
        CASE WHEN p."value" <> 0 THEN (l."value" - p."value") / p."value" * 100 END::DOUBLE AS pct_change
    FROM latest l LEFT JOIN marked p
        ON p.survey = l.survey AND p.series_id = l.series_id AND p."year" = l."year" - 1 AND p.period = l.period;
CREATE TABLE series_catalog AS SELECT survey, series_id, series_id AS title, NULL AS seasonal,
    CASE kind WHEN 'M' THEN 'monthly' WHEN 'Q' THEN 'quarterly' WHEN 'S' THEN 'semiannual' ELSE 'annual' END AS periodicity
    FROM kinds;
"""
# A survey's data files may overlap (`pr.data.0.Current` holds recent years of `pr.data.1.AllData`): an
# observation is taken once, from the first file in name order (as `chalicelib.gold.build` does).
DEDUPE = 'QUALIFY row_number() OVER (PARTITION BY survey, series_id, "year", period ORDER BY file) = 1'
TABLES = ("series_catalog", "series_annual", "series_best_year", "series_latest")


def step(name: str, store: str, out: str, survey: str = SURVEY, memory_limit: str = "") -> None:
    """Run one step (in its own process, its work folder `out`'s); write its rows and best years to `out`.

    `survey` "*" = every survey of the store (the overlap of data files resolved as the project does)."""
    work = Path(out).parent
    if name == "gold/project":  # what `bls-pipeline lake` runs for gold (the lake Lambda: one survey per event)
        from chalicelib.core.store import LocalStore
        from chalicelib.gold.sync import GoldResult, reconcile

        done = reconcile(LocalStore(store), tmp_dir=str(work))
        failed = [d for d in done if not isinstance(d, GoldResult) or d.action != "written"]
        if failed:
            raise SystemExit(f"gold not written: {failed[:3]}")
        rows = {t: sum(d.rows.get(t, 0) for d in done if isinstance(d, GoldResult)) for t in TABLES}
        result = {"rows": rows, "surveys": len(done), "best": _best(f"{store}/gold/series_best_year/*/data.parquet")}
    else:
        import duckdb

        connection = duckdb.connect()
        connection.execute(f"SET temp_directory = '{work / 'duckdb.tmp'}'")
        if memory_limit:
            connection.execute(f"SET memory_limit = '{memory_limit}'")
        connection.execute(DUCKDB_SQL.format(silver=Path(store) / "silver", survey=survey,
                                             dedupe=DEDUPE if survey == "*" else ""))
        rows = {}
        for table in TABLES:
            connection.execute(f"COPY {table} TO '{work / table}' (FORMAT parquet, COMPRESSION zstd, "
                               f"PARTITION_BY (survey), OVERWRITE_OR_IGNORE)")
            rows[table] = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        result = {"rows": rows, "best": _best(f"{work}/series_best_year/*/*.parquet")}
    Path(out).write_text(json.dumps(result))


def measure_step(name: str, store: Path, folder: Path, survey: str = SURVEY, memory_limit: str = "") -> dict:
    """One step in a fresh process with a work folder (its TMPDIR) of its own, polled for peak disk use."""
    work = folder / ("work-" + name.replace("/", "-"))
    work.mkdir()
    out = work / "result.json"
    command = [sys.executable, __file__, "--step", name, str(store), str(out), survey, memory_limit]
    return measure(command, out, tmp=work, env={**os.environ, "TMPDIR": str(work)}, cwd=work)


def _best(pattern: str) -> dict[str, list[object]]:
    """{survey/series_id: [year, exact value]} of the best-year files matching `pattern` (hive paths)."""
    import duckdb

    rows = duckdb.connect().execute(f"SELECT survey || '/' || series_id, \"year\", \"value\" "
                                    f"FROM read_parquet('{pattern}', hive_partitioning = true)").fetchall()
    return {s: [int(y), str(Decimal(v).normalize())] for s, y, v in rows}


def write_file(args: argparse.Namespace, folder: Path) -> tuple[Path, str]:
    """The one data file (generated or --data) in a local store as the mirror leaves it; (store, title)."""
    tsv = args.data
    if tsv is None:
        from generate_bls import generate

        tsv = folder / "pr.data.0.Current"
        print(f"generating {tsv} ({args.mb:.0f} MiB) ...", file=sys.stderr)
        generate(tsv, args.mb)
    store = prepare_store(folder, tsv)
    title = f"a {tsv.stat().st_size / 2**20:.0f} MiB BLS data file"
    if tsv.parent == folder:
        tsv.unlink()
    return store, title


def write_tree(folder: Path, surveys: int) -> tuple[Path, str]:
    """The data files of the every-survey tree (`every_survey_bench.survey_plan`: names and sizes) with BLS
    rows (`generate_bls`; ids `<SURVEY>S…`; `data.0.Current` the first part of `data.1.AllData`, the other
    files other series) in a local store as the mirror leaves them; (store, title)."""
    from every_survey_bench import survey_names, survey_plan
    from generate_bls import generate

    from chalicelib.core.layout import data_key
    from chalicelib.core.store import LocalStore

    store, spool, files, size = LocalStore(folder / "store"), folder / "spool", 0, 0
    for index, survey in enumerate(survey_names(surveys)):
        for name, planned in survey_plan(index, survey, 0, 120).items():
            part = name.split(".data.")[1][0] if ".data." in name else None
            if part is None:
                continue
            first = 30_000_000 + (0 if part in "01" else int(part) * 1_000_000)
            generate(spool, planned / 2**20, seed=index + 1, prefix=f"{survey.upper()}S", first=first)
            with open(spool, "rb") as stream:
                digest = hashlib.file_digest(stream, "sha256").hexdigest()
                stream.seek(0)
                store.put(data_key(survey, name), stream, metadata={"sha256": digest})
            files, size = files + 1, size + spool.stat().st_size
    spool.unlink()
    return store.root, f"the every-survey tree's data files ({surveys} surveys, {files} files, {size / 2**30:.2f} GiB)"


def build_silver(store: Path, folder: Path) -> None:
    """Silver for every source of the store, as `bls-pipeline lake` builds it (not timed)."""
    print("converting to silver (not timed) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                    "from chalicelib.core.store import LocalStore; from chalicelib.lake.sync import reconcile;"
                    "done = reconcile(LocalStore(sys.argv[2]), tmp_dir=sys.argv[3]);"
                    "bad = [d for d in done if d.action != 'written']; assert not bad, bad[:3]",
                    str(ROOT), str(store), str(folder)], check=True, env={**os.environ, "LOG_LEVEL": "WARNING"})


def report(results: dict[str, dict], title: str, memory_limit: str) -> bool:
    """Print the table; True when the steps agree (rows of every table, best year of every series)."""
    print(f"\nGold layer on {title} ({os.cpu_count()} CPUs; load average {load_average()}; "
          f"DuckDB memory_limit {memory_limit or 'default'})\n")
    print("| step | tool | wall time (s) | CPU time (s) | peak RSS (MiB) | peak TMPDIR (MiB) "
          "| rows (catalog / annual / best / latest) |")
    print("|---|---|---:|---:|---:|---:|---|")
    for name, result in results.items():
        what, tool = name.split("/")
        counts = " / ".join(f"{result['rows'][t]:,}" for t in TABLES)
        print(f"| {what} | {tool} | {result['seconds']:.2f} | {result['cpu']:.2f} | {result['peak_mib']:.0f} "
              f"| {result['peak_tmp_mib']:.0f} | {counts} |")
    if len(results) < 2:
        return True
    ours, theirs = results["gold/project"], results["gold/duckdb"]
    differs = sum(1 for s in ours["best"].keys() | theirs["best"].keys() if ours["best"].get(s) != theirs["best"].get(s))
    same_rows = ours["rows"] == theirs["rows"]
    print(f"\nbest years: {len(ours['best']):,} series, {differs} differ between the project and DuckDB; "
          f"row counts of the four tables {'equal' if same_rows else 'DIFFER'}")
    return differs == 0 and same_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=520.0, help="size of the generated file in MiB (default 520)")
    parser.add_argument("--data", type=Path, help="use this BLS data file instead of generating one")
    parser.add_argument("--tree", type=int, metavar="SURVEYS", help="the every-survey tree's data files instead")
    parser.add_argument("--reuse", type=Path, help="the store of a kept run's folder (silver built); with --tree "
                        "if it was a tree")
    parser.add_argument("--only", choices=STEPS, help="run only this step")
    parser.add_argument("--duckdb-memory-limit", default="", help="DuckDB's memory_limit (e.g. 2GB; default: its own)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--step", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step(*args.step)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="gold-bench-"))
    try:
        if args.reuse:  # a kept run's store, silver built; its gold goes (the project step builds it again)
            store, title = args.reuse / "store", f"the store kept in {args.reuse}"
            shutil.rmtree(store / "gold", ignore_errors=True)
        else:
            store, title = write_tree(folder, args.tree) if args.tree else write_file(args, folder)
            build_silver(store, folder)
        results = {}
        for name in [args.only] if args.only else STEPS:
            print(f"running {name} ...", file=sys.stderr)
            results[name] = measure_step(name, store, folder, "*" if args.tree else SURVEY, args.duckdb_memory_limit)
        return 0 if report(results, title, args.duckdb_memory_limit) else 1
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
