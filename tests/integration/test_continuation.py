"""A mirror run across Lambda invocations: continuation messages, the lease, the rate between invocations.

The handlers run in this process (as Lambda would call them) on a local store, with the
continuation queue in moto SQS and the sources on the local server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.core.layout import MIRROR_RUN_KEY, POPULATION_KEY
from chalicelib.core.store import LocalStore
from chalicelib.pipeline import continuation, handlers
from chalicelib.pipeline.continuation import read_run
from support.pipeline_sources import BLS_PATH, publish_population, publish_vintage, source_env


class Context:
    """What Lambda passes: the remaining time of the invocation."""

    def __init__(self, remaining_ms: int = 900_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def queue(env: dict[str, str]) -> Iterator[Any]:
    """The continuation queue, named in the functions' environment (`env`) as the stack names it."""
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="continuation")["QueueUrl"]
        env["CONTINUATION_QUEUE_URL"] = url
        yield lambda: _receive(sqs, url)


def _receive(sqs: Any, url: str) -> list[str]:
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


@pytest.fixture
def source_server() -> Iterator[Any]:
    from support.faultserver import FaultServer

    with FaultServer(slow_seconds=0.5) as server:
        yield server


@pytest.fixture
def env(source_server, tmp_path) -> dict[str, str]:
    publish_vintage(source_server, "2025-09-04")
    publish_population(source_server)
    return source_env(source_server, str(tmp_path / "data")) | {"HTTP_REQUESTS_PER_SECOND": "100"}


def test_an_incomplete_daily_run_continues_by_itself_until_complete(source_server, env, queue, tmp_path):
    store = LocalStore(tmp_path / "data")
    env = env | {"HTTP_REQUESTS_PER_SECOND": "2"}
    # GIVEN a daily invocation whose time is up before any transfer (budget 0)
    first = handlers.scheduled_ingestion(env | {"MIRROR_TIME_BUDGET": "0"}, Context())
    # THEN the mirror is incomplete, the population ran, and one continuation message was sent
    assert first["ok"] and first["mirror"]["complete"] is False and first["population"]["changed"] is True
    (message,) = queue()
    run, _ = read_run(store)
    assert json.loads(message) == {"run_id": run.run_id} and not run.complete and run.invocations == 1
    end_of_first = max(r.at for r in source_server.requests)
    # WHEN the continuation arrives (right away)
    second = handlers.continue_ingestion(message, env, Context())
    # THEN the mirror completes, no further message is sent, and the lease is free
    assert second["ok"] and second["mirror"]["complete"] is True and len(second["mirror"]["added"]) == 12
    assert second["population"] is None  # the population runs once a day, in the daily run
    assert queue() == []
    run, _ = read_run(store)
    assert run.complete and run.invocations == 2 and not run.holds_lease(time.time())
    # AND the source saw no two requests closer than the rate allows, across the two invocations
    start_of_second = min(r.at for r in source_server.requests if r.at > end_of_first)
    assert start_of_second - end_of_first >= 0.5 - 0.01  # 2 requests/s


def test_a_duplicate_or_stale_continuation_message_is_dropped(source_server, env, queue, tmp_path):
    handlers.scheduled_ingestion(env | {"MIRROR_TIME_BUDGET": "0"}, Context())
    (message,) = queue()
    assert handlers.continue_ingestion(message, env, Context())["mirror"]["complete"]
    source_server.reset_counts()
    # WHEN the same message is delivered again, or one naming another run, or garbage
    for body in (message, json.dumps({"run_id": "another"}), "not json"):
        result = handlers.continue_ingestion(body, env, Context())
        # THEN nothing runs
        assert result["dropped"] is True
    assert source_server.requests == []


def test_the_daily_run_does_not_mirror_while_a_continuation_holds_the_lease(source_server, env, queue, tmp_path):
    # GIVEN a run cut short, its continuation not yet processed
    handlers.scheduled_ingestion(env | {"MIRROR_TIME_BUDGET": "0"}, Context())
    assert len(queue()) == 1
    run_before, _ = read_run(LocalStore(tmp_path / "data"))
    source_server.reset_counts()
    # WHEN the daily schedule fires again
    result = handlers.scheduled_ingestion(env, Context())
    # THEN it fetches the population only: no listing was read, no new run started, no message sent
    assert result["mirror"] is None and result["population"] is not None
    assert [r.path for r in source_server.requests if r.path.startswith(BLS_PATH)] == []
    assert read_run(LocalStore(tmp_path / "data"))[0].run_id == run_before.run_id
    assert queue() == []


def test_two_daily_runs_at_once_never_both_mirror(source_server, env, queue, tmp_path):
    # GIVEN two daily invocations started together, the listing held until one of them has returned
    # (so the other is still mirroring then, however slowly either thread starts on a busy machine)
    source_server.inject(BLS_PATH, "hold")
    results: list[dict] = []

    def one() -> None:
        try:
            results.append(handlers.scheduled_ingestion(env, Context()))
        finally:
            source_server.release()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN exactly one of them mirrored (the other lost the lease), and the files are complete
    mirrored = [r for r in results if r["mirror"] is not None]
    assert len(mirrored) == 1 and len(mirrored[0]["mirror"]["added"]) == 12
    assert source_server.count("GET", BLS_PATH) == 1 + 12


def test_the_lease_expires_if_a_continuation_chain_dies(tmp_path):
    store = LocalStore(tmp_path / "data")
    now = 1_000_000.0
    first = continuation.start_run(store, now)
    assert first is not None and continuation.start_run(store, now + 60) is None
    assert continuation.start_run(store, now + continuation.LEASE_SECONDS + 1) is not None
    assert store.exists(MIRROR_RUN_KEY)


def test_the_record_reads_the_typed_mirror_result_and_a_crashed_step_frees_the_lease(tmp_path):
    from chalicelib.mirror.results import MirrorResult, SurveyResult

    store = LocalStore(tmp_path / "data")
    run, etag = continuation.start_run(store, 1000.0)
    # GIVEN an invocation that left two files of la and did not reach ce
    mirrored = MirrorResult([SurveyResult("la", "u", "bls/la/", pending=["x", "y"]),
                             SurveyResult("ce", "u", "bls/ce/", reached=False)])
    done = continuation.finish_invocation(store, run, etag, mirrored, 2000.0)
    # THEN the record keeps the lease, with what is pending
    assert (done.complete, done.pending, done.not_reached) == (False, 2, 1)
    assert done.pending_by_survey == {"la": 2, "ce": None}
    assert done.lease_until == 2000.0 + continuation.LEASE_SECONDS and read_run(store)[0] == done
    # AND a mirror step that crashed (no result) ends the run and frees the lease
    crashed = continuation.finish_invocation(store, done, read_run(store)[1], None, 3000.0)
    assert crashed.complete and crashed.lease_until == 3000.0 and crashed.invocations == 2


def test_a_damaged_run_record_fails_the_invocation_after_the_population(source_server, env, queue, tmp_path):
    from chalicelib.pipeline.ingestion import IngestionFailed

    # GIVEN a run record that is not JSON
    LocalStore(tmp_path / "data").put(MIRROR_RUN_KEY, b"{not json")
    # WHEN the daily run fires
    with pytest.raises(IngestionFailed, match="the run record could not be read"):
        handlers.scheduled_ingestion(env, Context())
    # THEN the population was still fetched, and nothing was mirrored
    assert LocalStore(tmp_path / "data").exists(POPULATION_KEY)
    assert [r.path for r in source_server.requests if r.path.startswith(BLS_PATH)] == []
