"""Benchmark the revisions diff (bench/README.md, "Revisions"): two versions of a large data file.

    python bench/revisions_bench.py [--mb 520] [--revised 0.10] [--keep]

Generates a BLS-format file (bench/generate_bls.py), converts it to a silver partition (the
previous version), and writes a new version of the partition in which `--revised` of the
values are changed (every row whose position is ≡ 0 mod 1/revised; one in 1000 rows also
gets a footnote), 0.1 % of the rows removed and 0.1 % added. Then, each in a fresh process (wall time from process start, imports
included; CPU and peak RSS from `getrusage(RUSAGE_CHILDREN)` of a meter process):

- diff/project: `chalicelib.lake.revisions.write_revisions` — the sort-merge the lake runs;
- diff/duckdb: DuckDB's full outer join of the two Parquet files on (series_id, year, period),
  keeping rows whose value or footnote differ, written to Parquet (`COPY … TO`).

Both outputs are compared (row counts per change kind, and a checksum of the values).
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
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

STEPS = ("diff/project", "diff/duckdb")
DUCKDB_DIFF = """
COPY (
    SELECT coalesce(n.series_id, o.series_id) AS series_id, coalesce(n."year", o."year") AS "year",
           coalesce(n.period, o.period) AS period, o.value AS previous_value, n.value AS value,
           CASE WHEN o.series_id IS NULL THEN 'added' WHEN n.series_id IS NULL THEN 'removed' ELSE 'revised' END
               AS change,
           n.footnote_codes AS footnote_codes, o.footnote_codes AS previous_footnote_codes
    FROM read_parquet('{old}') o FULL OUTER JOIN read_parquet('{new}') n
      ON o.series_id = n.series_id AND o."year" = n."year" AND o.period = n.period
    WHERE o.series_id IS NULL OR n.series_id IS NULL OR o.value <> n.value
       OR o.footnote_codes IS DISTINCT FROM n.footnote_codes
) TO '{out}' (FORMAT parquet, COMPRESSION zstd)
"""


def step(name: str, old: str, new: str, out: str) -> None:
    """Run one step in this process; write its output file next to `out` and its summary to `out`."""
    target = Path(out).with_suffix(".parquet")
    if name == "diff/project":
        from chalicelib.lake.revisions import write_revisions

        moment = datetime(2026, 8, 6, tzinfo=UTC)
        rows, _ = write_revisions(target, Path(old), Path(new),
                                  {"vintage": moment, "previous_vintage": moment, "recorded_at": moment})
    else:
        import duckdb

        connection = duckdb.connect()
        connection.execute(DUCKDB_DIFF.format(old=old, new=new, out=target))
    Path(out).write_text(json.dumps({"file": str(target)}))


def meter(name: str, old: str, new: str, out: str) -> None:
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--step", name, old, new, out], check=True)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024}))


def measure(name: str, old: Path, new: Path, folder: Path) -> dict[str, object]:
    out = folder / (name.replace("/", "-") + ".json")
    done = subprocess.run([sys.executable, __file__, "--meter", name, str(old), str(new), str(out)],
                          check=True, capture_output=True, text=True)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), **json.loads(out.read_text())}


def make_versions(tsv: Path, folder: Path, revised: float) -> tuple[Path, Path, int]:
    """The previous partition and a new one with `revised` of its values changed, 0.1 % of the rows
    removed and 0.1 % added (rows left out of the previous version), one in 1000 given a footnote."""
    import numpy as np
    import pandas as pd

    from chalicelib.lake import revision_diff
    from chalicelib.lake.convert import DATA_DECIMALS, data_row_groups
    from chalicelib.lake.parquet import write_parquet

    base, old, new = folder / "base.parquet", folder / "old.parquet", folder / "new.parquet"
    with open(tsv, "rb") as stream, open(base, "wb") as out:
        write_parquet(out, data_row_groups(stream, str(tsv)), DATA_DECIMALS)
    every = max(1, round(1 / revised))

    def version(is_new: bool) -> object:
        start = 0
        reader = revision_diff.raw_reader(base)  # the stored integers, as the diff reads them
        for frame in reader.iter_row_groups():
            position = np.arange(start, start + len(frame))
            start += len(frame)
            value = frame["value"].to_numpy(dtype=np.int64).copy()
            footnotes = frame["footnote_codes"].astype(object).to_numpy().copy()
            if is_new:
                value[position % every == 0] += 100_000  # +0.1
                footnotes[position % 1000 == 7] = "R"
            keep = position % 1000 != (500 if is_new else 3)
            group = pd.DataFrame({"series_id": frame["series_id"], "year": frame["year"], "period": frame["period"],
                                  "value": value, "footnote_codes": pd.Categorical(footnotes)})
            yield group[keep].reset_index(drop=True)  # categoricals, dictionary-encoded as the lake writes them

    rows = 0
    for path, is_new in ((old, False), (new, True)):
        with open(path, "wb") as out:
            rows = write_parquet(out, version(is_new), DATA_DECIMALS)
    base.unlink()
    return old, new, rows


def summarize(path: Path) -> tuple[list[tuple[str, int]], object]:
    import duckdb

    counts = duckdb.sql(f"SELECT change, count(*) FROM read_parquet('{path}') GROUP BY 1 ORDER BY 1").fetchall()
    checksum = duckdb.sql(f"SELECT sum(coalesce(value, 0) - coalesce(previous_value, 0)), "
                          f"sum(hash(series_id, year, period)) FROM read_parquet('{path}')").fetchall()[0]
    return counts, checksum


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=520.0, help="size of the generated file in MiB (default 520)")
    parser.add_argument("--revised", type=float, default=0.10, help="share of the values revised (default 0.10)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--step", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--meter", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step(*args.step)
        return 0
    if args.meter:
        meter(*args.meter)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="revisions-bench-"))
    try:
        sys.path.insert(0, str(HERE))
        from generate_bls import generate

        tsv = folder / "pr.data.0.Current"
        print(f"generating {tsv} ({args.mb:.0f} MiB) ...", file=sys.stderr)
        generate(tsv, args.mb)
        size = tsv.stat().st_size
        print("converting the two versions ...", file=sys.stderr)
        old, new, rows = make_versions(tsv, folder, args.revised)
        tsv.unlink()
        results = {}
        for name in STEPS:
            print(f"running {name} ...", file=sys.stderr)
            results[name] = measure(name, old, new, folder)
        print(f"\nRevisions of a {size / 2**20:.0f} MiB BLS data file ({rows:,} rows, {args.revised:.0%} revised; "
              f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f})\n")
        print("| step | tool | wall time (s) | CPU time (s) | peak RSS (MiB) | revision rows |")
        print("|---|---|---:|---:|---:|---|")
        outputs = {}
        for name, result in results.items():
            counts, checksum = summarize(Path(str(result["file"])))
            outputs[name] = (counts, checksum)
            what, tool = name.split("/")
            text = ", ".join(f"{n:,} {c}" for c, n in counts)
            print(f"| {what} | {tool} | {result['seconds']:.2f} | {result['cpu']:.2f} | {result['peak_mib']:.0f} "
                  f"| {text} |")
        same = outputs["diff/project"] == outputs["diff/duckdb"]
        print(f"\nsame revision rows (counts and checksums): {'yes' if same else 'NO'}")
        return 0 if same else 1
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
