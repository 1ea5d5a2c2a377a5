"""Continuation benchmark (issue 19, point 7): what a source that trickles a large file costs.

The daily `ingest` handler and the `ingest_continue` handler run in this process as Lambda would
call them (a local store, the continuation queue in moto's in-process SQS), against a local
source whose one large file is sent at a fixed, slow rate. Each "invocation" has a wall-clock
length `--invocation-s` (new transfers start during its first 60 %, a transfer still running at
its end is abandoned, as `Deadlines.from_lambda` does 90 s before a Lambda's timeout). The messages
are handed from the queue to the next invocation until the chain ends.

Measured per scenario: invocations, bytes received from the source, source requests, wall time,
and how the run ended. The model for AWS is in bench/README.md: an invocation is 900 s there,
so the same bound (MAX_ABANDONS invocations per run for a file that never fits) is 2,700 s of
Lambda time instead of 96 invocations a day without end.

    .venv/bin/python bench/continuation_bench.py [--size-mb 4] [--rate-kbs 256] [--invocation-s 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from moto import mock_aws

from chalicelib.core.layout import survey_prefix
from chalicelib.core.store import LocalStore
from chalicelib.mirror.budget import Deadlines
from chalicelib.pipeline import continuation, handlers
from chalicelib.pipeline.ingestion import IngestionFailed
from workstation.sourceserver import RequestRecord, SourceServer

SURVEY = "/pub/time.series/pr/"
BIG = SURVEY + "pr.data.1.AllData"
WHEN = datetime(2026, 8, 6, 12, 30, tzinfo=UTC)
CHUNK = 16 * 1024
POPULATION = (Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "datausa"
              / "population_acs1_nation_newapi_tejalk14_2025-10.json")


@dataclass
class TricklingServer(SourceServer):
    """Serves `slow_path` at `rate` bytes per second (full Content-Length, then the bytes, paced)."""

    slow_path: str = ""
    rate: float = 256 * 1024.0
    sent: int = 0

    def fault(self, record: RequestRecord, handler: Any) -> bool:
        if record.path != self.slow_path or record.method != "GET":
            return False
        body = self.resources[record.path].body
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        started = time.monotonic()
        try:
            for offset in range(0, len(body), CHUNK):
                handler.wfile.write(body[offset:offset + CHUNK])
                handler.wfile.flush()
                self.sent += min(CHUNK, len(body) - offset)
                ahead = started + (offset + CHUNK) / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)  # the source's own pace (the code under test never sleeps for it)
        except OSError:  # the client abandoned the transfer
            pass
        return True


def _deadlines(invocation_s: float) -> Deadlines:
    now = time.monotonic()
    return Deadlines(start_until=now + 0.6 * invocation_s, abandon_at=now + invocation_s, per_file=1e9)


def scenario(name: str, size: int, rate: float, invocation_s: float, stop_after: int | None = None) -> dict[str, Any]:
    """One chain from the daily run to its end (or `stop_after` invocations); its costs."""
    server = TricklingServer(require_contact=False, slow_path=BIG, rate=rate)
    with server, tempfile.TemporaryDirectory() as folder, mock_aws():
        server.publish(SURVEY + "pr.series", b"series_id\tx\n" * 100, WHEN)
        line = b"PRS30006011\t2024\tQ01\t1.0\n"
        server.publish(BIG, line * (size // len(line) + 1), WHEN)
        server.publish("/tesseract/data.jsonrecords", POPULATION.read_bytes(), WHEN, content_type="application/json")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="continuation")["QueueUrl"]
        env = {"DATA_STORE": folder, "BLS_SOURCE_URL": server.base_url + SURVEY, "BLS_CONTACT": "bench@example.org",
               "POPULATION_API_URL": server.base_url + "/tesseract/data.jsonrecords",
               "HTTP_REQUESTS_PER_SECOND": "1000", "CONTINUATION_QUEUE_URL": queue}
        started = time.monotonic()
        invocations, ended_by = 1, "complete"
        try:
            handlers.scheduled_ingestion(env, None, deadlines=_deadlines(invocation_s))
            while True:
                messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1).get("Messages", [])
                if not messages:
                    break
                if stop_after is not None and invocations >= stop_after:
                    ended_by = f"still going after {invocations} invocations (stopped by the bench)"
                    break
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])
                invocations += 1
                handlers.continue_ingestion(messages[0]["Body"], env, None, sleep=lambda _: None,
                                            deadlines=_deadlines(invocation_s))
        except IngestionFailed as error:
            ended_by = "failed: " + str(error).split("mirror: ", 1)[-1].split(" (")[0]
        seconds = time.monotonic() - started
        run, _ = continuation.read_run(LocalStore(folder))
        big_key = survey_prefix("pr") + BIG.rsplit("/", 1)[-1]
        stored = LocalStore(folder).exists(big_key)
        received = max(server.sent, LocalStore(folder).head(big_key).size if stored else 0)
        return {"scenario": name, "size_mb": round(size / 1e6, 1), "rate_kbs": round(rate / 1024) if rate < 1e9 else "full",
                "invocation_s": invocation_s, "invocations": invocations,
                "record_invocations": run.invocations if run else None,
                "bytes_from_source_mb": round(received / 1e6, 2),
                "source_requests": len(server.requests), "wall_s": round(seconds, 2),
                "big_file_stored": stored, "ended": ended_by}


def main(argv: list[str] | None = None) -> int:
    for name, value in (("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "bench"),
                        ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(name, value)  # moto's in-process SQS; no AWS account is contacted
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=4.0)
    parser.add_argument("--rate-kbs", type=float, default=256.0)
    parser.add_argument("--invocation-s", type=float, default=2.0)
    parser.add_argument("--unbounded-stop", type=int, default=8, help="invocations after which the bench stops "
                        "the chain that has no bound")
    args = parser.parse_args(argv)
    size, rate = int(args.size_mb * 1e6), args.rate_kbs * 1024
    rows = [
        scenario("trickled: never fits one invocation", size, rate, args.invocation_s),
        scenario("control: the same file at full speed", size, 1e12, args.invocation_s),
    ]
    # Without the per-file bound (as before issue 19): the chain never ends on its own.
    bound = continuation.MAX_ABANDONS
    continuation.MAX_ABANDONS = 10**9
    try:
        rows.append(scenario("trickled, without the bound (before issue 19)", size, rate, args.invocation_s,
                             stop_after=args.unbounded_stop))
    finally:
        continuation.MAX_ABANDONS = bound
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
