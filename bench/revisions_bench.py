"""Benchmark the revisions diff (bench/README.md, "Revisions"): two versions of a large data file.

    python bench/revisions_bench.py [--mb 520 | --data FILE | --versions KEPT] [--revised 0.10] [--only STEP]
                                    [--duckdb-memory-limit 2GB] [--keep]

Generates a BLS-format file (bench/generate_bls.py), converts it to a silver partition (the
previous version), and writes a new version of the partition in which `--revised` of the
values are changed (every row whose position is ≡ 0 mod 1/revised; one in 1000 rows also
gets a footnote), 0.1 % of the rows removed and 0.1 % added. Then, each in a fresh process (wall time from
process start, imports included; CPU and peak RSS from `getrusage(RUSAGE_CHILDREN)` of a meter process;
peak TMPDIR = the step's work folder, its TMPDIR, polled: both partitions, the output, any spill; see
bench/common.py):

- diff/project: `chalicelib.lake.revisions.write_revisions` — the sort-merge the lake runs;
- diff/duckdb: DuckDB's full outer join of the two Parquet files on (series_id, year, period),
  keeping rows whose value or footnote differ, written to Parquet (`COPY … TO`);
- diff/duckdb-ranges: the same join run per range of series ids (about RANGE_ROWS rows of the new
  partition each; one output file per range) — how DuckDB could run the diff in bounded memory.

Both outputs are compared (row counts per change kind, and a checksum of the values).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
from common import load_average, measure  # noqa: E402

STEPS = ("diff/project", "diff/duckdb", "diff/duckdb-ranges")
RANGE_ROWS = 2_000_000  # rows of the new partition per DuckDB join in diff/duckdb-ranges
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


def step(name: str, old: str, new: str, out: str, memory_limit: str = "") -> None:
    """Run one step in this process, in the folder of `out` (as the lake's work folder holds the previous
    partition, the new one and the revisions file); write its summary to `out`."""
    target = Path(out).with_suffix(".parquet")
    if name == "diff/project":
        from chalicelib.lake.revisions import write_revisions

        moment = datetime(2026, 8, 6, tzinfo=UTC)
        rows, _ = write_revisions(target, Path(old), Path(new),
                                  {"vintage": moment, "previous_vintage": moment, "recorded_at": moment})
    else:
        import duckdb

        connection = duckdb.connect()
        connection.execute(f"SET temp_directory = '{Path(out).parent / 'duckdb.tmp'}'")
        if memory_limit:
            connection.execute(f"SET memory_limit = '{memory_limit}'")
        if name == "diff/duckdb":
            connection.execute(DUCKDB_DIFF.format(old=old, new=new, out=target))
        else:
            target = duckdb_ranges(connection, old, new, Path(out).parent / "ranges")
    Path(out).write_text(json.dumps({"file": str(target)}))


def duckdb_ranges(connection: object, old: str, new: str, folder: Path) -> str:
    """DUCKDB_DIFF once per range of series ids (about RANGE_ROWS rows of the new partition each), a file
    per range; the glob of the files."""
    folder.mkdir()
    counts = connection.execute(  # type: ignore[attr-defined]
        f"SELECT series_id, count(*) FROM read_parquet('{new}') GROUP BY 1 ORDER BY 1").fetchall()
    edges: list[str | None] = [None]
    held = 0
    for series_id, rows in counts:
        if held and held + rows > RANGE_ROWS:
            edges.append(series_id)
            held = 0
        held += rows
    edges.append(None)
    for number, (low, high) in enumerate(zip(edges, edges[1:])):
        where = " AND ".join([*([f"series_id >= '{low}'"] if low else []), *([f"series_id < '{high}'"] if high else [])])
        sides = {name: f"(SELECT * FROM read_parquet('{path}') WHERE {where or 'true'})"
                 for name, path in (("old", old), ("new", new))}
        sql = DUCKDB_DIFF.format(old="{old}", new="{new}", out=folder / f"{number}.parquet")
        sql = sql.replace("read_parquet('{old}')", sides["old"]).replace("read_parquet('{new}')", sides["new"])
        connection.execute(sql)  # type: ignore[attr-defined]
    return str(folder / "*.parquet")


def measure_step(name: str, old: Path, new: Path, folder: Path, memory_limit: str) -> dict[str, object]:
    """One step in a fresh process with a work folder (its TMPDIR) of its own holding links to both
    partitions; peak TMPDIR counts them, the output and whatever the step spills."""
    work = folder / ("work-" + name.replace("/", "-"))
    work.mkdir()
    for source, link in ((old, work / "previous.parquet"), (new, work / "new.parquet")):
        os.link(source, link)
    out = work / "revisions.json"
    command = [sys.executable, __file__, "--step", name, str(work / "previous.parquet"), str(work / "new.parquet"),
               str(out), memory_limit]
    result = measure(command, out, tmp=work, env={**os.environ, "TMPDIR": str(work)}, cwd=work)
    return {**result, "bytes": sum(p.stat().st_size for p in (old, new))}


def revised_cells(cells: object, revised: object) -> object:
    """The value cells as stored (DECIMAL FIXED_LEN_BYTE_ARRAY), +0.1 where `revised` (a mask, or None)."""
    import numpy as np

    from chalicelib.lake.convert import VALUE_DECIMAL
    from chalicelib.lake.parquet import cell_ints, decimal_bytes

    if revised is None:
        return cells
    scaled = cell_ints(cells).astype(np.int64)
    scaled[revised] += 10 ** (VALUE_DECIMAL.scale - 1)  # +0.1
    whole = np.sign(scaled) * (np.abs(scaled) // 10**VALUE_DECIMAL.scale)
    return decimal_bytes(whole, scaled - whole * 10**VALUE_DECIMAL.scale, VALUE_DECIMAL)


def make_versions(tsv: Path, folder: Path, revised: float) -> tuple[Path, Path, int]:
    """The previous partition and a new one with `revised` of its values changed, 0.1 % of the rows
    removed and 0.1 % added (rows left out of the previous version), one in 1000 given a footnote."""
    import numpy as np
    import pandas as pd

    from chalicelib.lake.convert import DATA_DECIMALS, data_row_groups
    from chalicelib.lake.parquet import open_raw, write_parquet

    base, old, new = folder / "base.parquet", folder / "old.parquet", folder / "new.parquet"
    with open(tsv, "rb") as stream, open(base, "wb") as out:
        write_parquet(out, data_row_groups(stream, str(tsv)), DATA_DECIMALS)
    every = max(1, round(1 / revised))

    def version(is_new: bool) -> object:
        start = 0
        reader, _ = open_raw(str(base))  # the stored cells, as the diff reads them
        for frame in reader.iter_row_groups():
            position = np.arange(start, start + len(frame))
            start += len(frame)
            value = revised_cells(frame["value"].to_numpy(), position % every == 0 if is_new else None)
            footnotes = frame["footnote_codes"].astype(object).to_numpy().copy()
            if is_new:
                footnotes[position % 1000 == 7] = "R"
            keep = position % 1000 != (500 if is_new else 3)
            yield pd.DataFrame({  # categoricals, dictionary-encoded as the lake writes them; value cells as stored
                "series_id": frame["series_id"][keep].reset_index(drop=True),
                "year": frame["year"].to_numpy()[keep], "period": frame["period"][keep].reset_index(drop=True),
                "value": value[keep], "footnote_codes": pd.Categorical(footnotes[keep])})

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


def prepare(args: argparse.Namespace, folder: Path) -> tuple[Path, Path, int, int]:
    """The two partitions (generated, or reused with --versions); (old, new, rows, size of the TSV or 0)."""
    if args.versions:
        from fastparquet import ParquetFile

        old, new = args.versions / "old.parquet", args.versions / "new.parquet"
        return old, new, int(ParquetFile(str(new)).count()), 0
    tsv = args.data
    if tsv is None:
        from generate_bls import generate

        tsv = folder / "pr.data.0.Current"
        print(f"generating {tsv} ({args.mb:.0f} MiB) ...", file=sys.stderr)
        generate(tsv, args.mb)
    size = tsv.stat().st_size
    print("converting the two versions ...", file=sys.stderr)
    old, new, rows = make_versions(tsv, folder, args.revised)
    if tsv.parent == folder:
        tsv.unlink()
    return old, new, rows, size


def report(results: dict[str, dict[str, object]], rows: int, size: int, args: argparse.Namespace) -> bool:
    """Print the table; True when every step wrote the same revision rows."""
    what_file = f"a {size / 2**20:.0f} MiB BLS data file" if size else "the kept partitions"
    print(f"\nRevisions of {what_file} ({rows:,} rows in the new version; {os.cpu_count()} CPUs; "
          f"load average {load_average()}; DuckDB memory_limit {args.duckdb_memory_limit or 'default'})\n")
    print("| step | tool | wall time (s) | CPU time (s) | peak RSS (MiB) | peak TMPDIR (MiB) | revision rows |")
    print("|---|---|---:|---:|---:|---:|---|")
    outputs = {}
    for name, result in results.items():
        counts, checksum = summarize(Path(str(result["file"])))
        outputs[name] = (counts, checksum)
        what, tool = name.split("/")
        text = ", ".join(f"{n:,} {c}" for c, n in counts)
        print(f"| {what} | {tool} | {result['seconds']:.2f} | {result['cpu']:.2f} | {result['peak_mib']:.0f} "
              f"| {result['peak_tmp_mib']:.0f} | {text} |")
    inputs = next(iter(results.values()))["bytes"]
    print(f"\n(peak TMPDIR includes both partitions, {int(str(inputs)) / 2**20:.0f} MiB together)")
    same = len({json.dumps(o, default=str) for o in outputs.values()}) == 1
    print(f"same revision rows (counts and checksums): {'yes' if same else 'NO'}")
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=520.0, help="size of the generated file in MiB (default 520)")
    parser.add_argument("--data", type=Path, help="use this BLS data file instead of generating one")
    parser.add_argument("--versions", type=Path, help="reuse old.parquet and new.parquet of a kept run's folder")
    parser.add_argument("--revised", type=float, default=0.10, help="share of the values revised (default 0.10)")
    parser.add_argument("--only", choices=STEPS, help="run only this step")
    parser.add_argument("--duckdb-memory-limit", default="", help="DuckDB's memory_limit (e.g. 2GB; default: its own)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--step", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step(*args.step)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="revisions-bench-"))
    try:
        old, new, rows, size = prepare(args, folder)
        results = {}
        for name in [args.only] if args.only else STEPS:
            print(f"running {name} ...", file=sys.stderr)
            results[name] = measure_step(name, old, new, folder, args.duckdb_memory_limit)
        return 0 if report(results, rows, size, args) else 1
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
