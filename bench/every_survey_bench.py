"""Every-survey benchmark: a generated time-series tree, mirrored under a time budget.

A tree shaped like `download.bls.gov/pub/time.series/` (default: 62 survey directories,
1,054 files, ~2.1 GB, one 650 MB file, 620 tiny ones, plus `compressed/` and `la/maps/`)
is written to a temp folder and served from disk by the local stand-in (IIS listings,
HTTP/1.1). `bls-pipeline mirror --source <root> --time-budget S` runs as a subprocess again
and again until `complete`, into moto S3 (`moto_server`) and into a local folder; then one
no-op re-sync of the whole tree. Measured per run: wall time, source requests, S3
requests, peak RSS of the mirror process (VmHWM), peak use of its TMPDIR (a folder of its
own, polled). Checked: every file fetched exactly once over all runs, the store
byte-identical to the source, skipped directories reported.

    .venv/bin/python bench/every_survey_bench.py [--budget-s3 8] [--budget-local 4] [--big-mb 650]
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import temp_bytes  # noqa: E402
from mirror_bench import BIN, CONTACT, ROOT, MotoServer, _env, _high_water_kb  # noqa: E402

from chalicelib.core.layout import BLS_PREFIX, BOOKKEEPING_SUFFIX  # noqa: E402
from workstation.sourceserver import RequestRecord, SourceServer  # noqa: E402

ROOT_PATH = "/pub/time.series/"
WHEN = datetime(2026, 8, 12, 8, 30, tzinfo=UTC)
LINE = "{sid}\t{year}\tM{month:02d}\t{value:>12.1f}\t\r\n"


# --------------------------------------------------------------------------- the tree


def survey_names(count: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    names = [a + b for a in letters for b in letters if a + b not in ("la", "cb")]
    return ["cb", "la", *names[: count - 2]]


def _block() -> bytes:
    """1 MiB of BLS-like rows (tab-separated, CRLF, space-padded), the same for every file."""
    rows, size, number = [], 0, 0
    while size < 1 << 20:
        row = LINE.format(sid=f"CUU{number:014d}", year=1990 + number % 36, month=number % 12 + 1,
                          value=(number * 7919 % 100000) / 10)
        rows.append(row)
        size += len(row)
        number += 1
    return "".join(rows).encode()[: 1 << 20]


_BLOCK = _block()


def write_data(path: Path, size: int, seed: str) -> None:
    """`size` bytes: a header naming the file (so every file differs), then BLS-like rows."""
    with open(path, "wb") as out:
        header = f"series_id        \tyear\tperiod\t       value\tfootnote_codes\t{seed}\r\n".encode()[:size]
        out.write(header)
        left = size - len(header)
        while left > 0:
            out.write(_BLOCK[:left])
            left -= len(_BLOCK)


def survey_plan(index: int, survey: str, big_mb: int, large_mb: int) -> dict[str, int]:
    """{file name: size in bytes} of the `index`-th survey of the tree."""
    plan = {f"{survey}.{kind}": 200 + (index * 37 + k * 11) % 700
            for k, kind in enumerate(("area", "footnote", "period", "seasonal", "measure", "sector",
                                      "datatype", "industry", "state", "txt"))}  # tiny
    plan |= {f"{survey}.series": 400_000 + index * 5_000,
             f"{survey}.data.0.Current": 3_000_000 + index * 20_000,
             f"{survey}.data.1.AllData": 4_000_000 + index * 30_000,
             f"{survey}.contacts": 2_000, f"{survey}.data.2.Summary": 600_000,
             f"{survey}.data.3.Extra": 900_000, f"{survey}.item": 40_000}
    if survey == "cb":
        plan[f"{survey}.series"] = big_mb * 1024 * 1024  # like cb.series, the biggest real file
    if index < 8:
        plan[f"{survey}.data.9.Large"] = large_mb * 1024 * 1024
    return plan


def generate_tree(root: Path, surveys: int, big_mb: int, large_mb: int = 120) -> dict[str, int]:
    """Write the tree; return {path under the root: size} of the files a mirror must hold."""
    sizes: dict[str, int] = {}
    for index, survey in enumerate(survey_names(surveys)):
        folder = root / survey
        folder.mkdir(parents=True)
        for name, size in survey_plan(index, survey, big_mb, large_mb).items():
            write_data(folder / name, size, name)
            sizes[f"{survey}/{name}"] = size
    (root / "compressed").mkdir()
    (root / "compressed" / "cb.series.zip").write_bytes(b"PK" + b"\0" * 1000)
    (root / "la" / "maps").mkdir()
    (root / "la" / "maps" / "la_map.pdf").write_bytes(b"%PDF-1.4" + b"\0" * 1000)
    return sizes


class TreeServer(SourceServer):
    """The source stand-in serving a folder from disk (bodies streamed, never held in memory)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(require_contact=True)
        self.folder = folder

    def fault(self, record: RequestRecord, handler) -> bool:  # noqa: ANN001 - SourceServer's hook
        relative = record.path[len(ROOT_PATH):] if record.path.startswith(ROOT_PATH) else None
        target = self.folder / relative if relative is not None else None
        if target is None or not target.exists():
            return False
        if target.is_dir():
            record.status = 200
            handler.send_body(200, self.listing(record.path, target).encode(), {"Content-Type": "text/html"})
            return True
        record.status = 200
        stamp = email.utils.format_datetime(WHEN, usegmt=True)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(target.stat().st_size))
        handler.send_header("Last-Modified", stamp)
        handler.end_headers()
        with open(target, "rb") as body:
            shutil.copyfileobj(body, handler.wfile, 1 << 20)
        return True

    @staticmethod
    def listing(path: str, folder: Path) -> str:
        rows = [f'<A HREF="{path.rstrip("/").rsplit("/", 1)[0]}/">[To Parent Directory]</A><br><br>']
        for item in sorted(folder.iterdir()):
            size = "&lt;dir&gt;" if item.is_dir() else str(item.stat().st_size)
            slash = "/" if item.is_dir() else ""
            rows.append(f' 8/12/2026  8:30 AM {size:>12} <A HREF="{path}{item.name}{slash}">{item.name}</A><br>')
        return f"<html><head><title>{path}</title></head><body><pre>{''.join(rows)}</pre><hr></body></html>"


# --------------------------------------------------------------------------- runs


@dataclass
class Run:
    backend: str
    step: str
    seconds: float
    peak_rss_mb: float
    peak_tmp_mb: float
    source_requests: int
    s3_requests: int
    complete: bool
    pending: int
    not_reached: int


def run_mirror(store: str, source: str, env: dict[str, str], budget: float | None) -> tuple[dict, float, float, float]:
    """One `bls-pipeline mirror` subprocess: (its JSON, wall s, peak RSS MB, peak TMPDIR MB)."""
    tmp = Path(env["TMPDIR"])
    command = [str(BIN / "bls-pipeline"), "mirror", "--store", store, "--source", source, "--contact", CONTACT,
               "--json"]
    if budget is not None:
        command += ["--time-budget", str(budget)]
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr, cwd=ROOT)
        peak_kb, peak_tmp = 0, 0
        while process.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(process.pid))
            peak_tmp = max(peak_tmp, temp_bytes(process.pid, tmp))
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        stdout.seek(0)
        stderr.seek(0)
        text = stdout.read().decode()
        if process.returncode != 0:
            raise RuntimeError(f"mirror exited {process.returncode}: {stderr.read()[-2000:].decode()}")
    return json.loads(text), seconds, peak_kb / 1024, peak_tmp / 1e6


def sync_until_complete(backend: str, store: str, server: TreeServer, env: dict[str, str], budget: float,
                        moto: MotoServer, runs: list[Run], limit: int = 30) -> Counter[str]:
    """Budgeted runs until complete; the GET count of every path over all of them."""
    gets: Counter[str] = Counter()
    for number in range(1, limit + 1):
        server.reset_counts()
        before = moto.requests()
        result, seconds, rss, tmp = run_mirror(store, server.base_url + ROOT_PATH, env, budget)
        gets.update(r.path for r in server.requests if r.method == "GET")
        runs.append(Run(backend, f"first sync, run {number}", seconds, rss, tmp, len(server.requests),
                        moto.requests() - before, result["complete"], result["pending"],
                        len(result["not_reached"])))
        print(row(runs[-1]), flush=True)
        if result["complete"]:
            assert result["skipped"] == ["compressed/", "la/maps/"], result["skipped"]
            return gets
    raise RuntimeError(f"{backend}: not complete after {limit} runs")


def stored_digests(store: str, moto: MotoServer) -> dict[str, str]:
    """{survey/name: sha256} of the mirrored files (bookkeeping excluded)."""
    found = {}
    if store.startswith("s3://"):
        import boto3

        client = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="test",
                              aws_secret_access_key="test", region_name="us-east-1")
        bucket = store[5:]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=BLS_PREFIX):
            for item in page.get("Contents", []):
                if BOOKKEEPING_SUFFIX + "/" not in item["Key"]:
                    digest = hashlib.sha256()
                    for chunk in client.get_object(Bucket=bucket, Key=item["Key"])["Body"].iter_chunks(1 << 20):
                        digest.update(chunk)
                    found[item["Key"].removeprefix(BLS_PREFIX)] = digest.hexdigest()
        return found
    base = Path(store) / BLS_PREFIX
    for path in base.rglob("*"):
        if path.is_file() and not path.parent.name.endswith(BOOKKEEPING_SUFFIX):
            found[path.relative_to(base).as_posix()] = file_digest(path)
    return found


def file_digest(path: Path) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def row(run: Run) -> str:
    return (f"| {run.backend} | {run.step} | {run.seconds:.1f} | {run.peak_rss_mb:.0f} | {run.peak_tmp_mb:.1f} | "
            f"{run.source_requests} | {run.s3_requests if run.backend == 'S3 (moto)' else '-'} | "
            f"{'yes' if run.complete else 'no'} | {run.pending} | {run.not_reached} |")


HEADER = ("| store | step | wall s | peak RSS MB | peak TMPDIR MB | source requests | S3 requests | complete "
          "| pending files | surveys not reached |\n|---|---|---:|---:|---:|---:|---:|---|---:|---:|")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--surveys", type=int, default=62)
    parser.add_argument("--big-mb", type=int, default=650, help="size of the one big file (cb.series)")
    parser.add_argument("--large-mb", type=int, default=120, help="size of the 8 large files")
    parser.add_argument("--budget-s3", type=float, default=8.0, help="--time-budget of each run into S3")
    parser.add_argument("--budget-local", type=float, default=4.0, help="--time-budget of each run into a folder")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="every-survey-bench-"))
    runs: list[Run] = []
    try:
        tree = workdir / "tree"
        started = time.perf_counter()
        sizes = generate_tree(tree, args.surveys, args.big_mb, args.large_mb)
        print(f"tree: {args.surveys} surveys, {len(sizes)} files, {sum(sizes.values()) / 1e9:.2f} GB, "
              f"largest {max(sizes.values()) / 1e6:.0f} MB, {sum(s < 1024 for s in sizes.values())} under 1 KB "
              f"(written in {time.perf_counter() - started:.0f} s)", flush=True)
        expected = {path: file_digest(tree / path) for path in sizes}
        (workdir / "moto-tmp").mkdir()
        os.environ["TMPDIR"] = str(workdir / "moto-tmp")  # moto_server spools its objects there, not ours
        moto = MotoServer(workdir)
        try:
            env = _env(moto) | {"HTTP_REQUESTS_PER_SECOND": "1000"}  # a local source: politeness off
            import boto3

            boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                         region_name="us-east-1").create_bucket(Bucket="bench-every")
            with TreeServer(tree) as server:
                print(HEADER, flush=True)
                for backend, store, budget in (("S3 (moto)", "s3://bench-every", args.budget_s3),
                                               ("local folder", str(workdir / "store"), args.budget_local)):
                    tmp = workdir / f"tmp-{backend[:2]}"
                    tmp.mkdir()
                    env["TMPDIR"] = str(tmp)
                    gets = sync_until_complete(backend, store, server, env, budget, moto, runs)
                    files = {ROOT_PATH + path for path in sizes}
                    once = all(gets[path] == 1 for path in files)
                    extra = sorted(p for p in gets if p not in files and not p.endswith("/"))
                    identical = stored_digests(store, moto) == expected
                    server.reset_counts()
                    before = moto.requests()
                    result, seconds, rss, peak_tmp = run_mirror(store, server.base_url + ROOT_PATH, env, None)
                    runs.append(Run(backend, "no-op re-sync", seconds, rss, peak_tmp, len(server.requests),
                                    moto.requests() - before, result["complete"], result["pending"], 0))
                    print(row(runs[-1]), flush=True)
                    first = [r for r in runs if r.backend == backend and r.step.startswith("first")]
                    print(f"{backend}: {len(first)} runs, {sum(r.source_requests for r in first)} source requests "
                          f"for {len(files)} files + listings; each file fetched exactly once: {once}; "
                          f"other paths fetched: {extra or 'none'}; byte-identical: {identical}; "
                          f"no-op source requests {runs[-1].source_requests} (1 + {args.surveys} surveys)",
                          flush=True)
        finally:
            moto.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(HEADER)
    for run in runs:
        print(row(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
