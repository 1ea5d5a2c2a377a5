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
    assert json.loads(message) == {"run_id": run.run_id, "invocation": 1} and not run.complete and run.invocations == 1
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


def test_the_record_reads_the_typed_mirror_result_and_a_crashed_step_keeps_the_run_incomplete(tmp_path):
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
    # AND a mirror step that crashed (no result) leaves the run incomplete, with its lease, to be tried again
    crashed = continuation.conclude(store, done, read_run(store)[1], None, 3000.0, redelivered=True)
    assert not crashed.run.complete and crashed.run.holds_lease(3000.0) and crashed.run.invocations == 2
    assert crashed.errors and not crashed.send  # the continuation raises; SQS delivers the same message again
    assert crashed.run.next_message == done.next_message


# --------------------------------------------------------------------------- issue 19, point 8


def test_a_failed_continuation_leaves_the_run_incomplete_and_the_sqs_retry_continues_it(
        source_server, env, queue, tmp_path):
    from chalicelib.pipeline.ingestion import IngestionFailed

    env = env | {"HTTP_RETRIES": "0"}
    store = LocalStore(tmp_path / "data")
    handlers.scheduled_ingestion(env | {"MIRROR_TIME_BUDGET": "0"}, Context())
    (message,) = queue()
    # GIVEN a continuation whose listing answers 503
    source_server.always(BLS_PATH, "503")
    with pytest.raises(IngestionFailed, match="503"):
        handlers.continue_ingestion(message, env, Context(), sleep=lambda _: None)
    # THEN the run is not complete: it keeps its lease and the failed survey as pending work,
    # and no second message was sent (SQS delivers the same one again)
    run, _ = read_run(store)
    assert not run.complete and run.holds_lease(time.time()) and run.summary()["complete"] is False
    assert "pr" in run.pending_by_survey and run.invocations == 2
    assert queue() == []
    # WHEN SQS redelivers the message and the source answers again
    source_server.always(BLS_PATH, None)
    result = handlers.continue_ingestion(message, env, Context(), sleep=lambda _: None)
    # THEN the run goes on and completes
    assert result["mirror"]["complete"] and len(result["mirror"]["added"]) == 12
    assert read_run(store)[0].complete and queue() == []


def test_a_daily_run_whose_survey_failed_is_not_complete_and_sends_a_continuation(source_server, env, queue, tmp_path):
    from chalicelib.pipeline.ingestion import IngestionFailed

    source_server.always(BLS_PATH, "503")
    with pytest.raises(IngestionFailed, match="503"):
        handlers.scheduled_ingestion(env | {"HTTP_RETRIES": "0"}, Context())
    run, _ = read_run(LocalStore(tmp_path / "data"))
    assert not run.complete and run.holds_lease(time.time())
    (message,) = queue()
    assert json.loads(message) == {"run_id": run.run_id, "invocation": 1}


# --------------------------------------------------------------------------- issue 19, point 7


class TickingClock:
    """A monotonic clock that advances one second each time it is read (no real time passes)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.now += 1.0
            return self.now


def ticking_deadlines(abandon_after: float = 100.0) -> Any:
    from chalicelib.mirror.budget import Deadlines

    return Deadlines(start_until=1e9, abandon_at=abandon_after, per_file=1e9, transfer_clock=TickingClock())


@pytest.fixture
def trickled(source_server, env):
    """A survey of two files: a small one, and one the source trickles (one byte per read)."""
    from support.pipeline_sources import VINTAGES

    source_server.trickle_seconds = 0.0005
    source_server.clear_directory(BLS_PATH)
    when = VINTAGES["2025-09-04"]
    source_server.publish(BLS_PATH + "pr.small", b"small\n", when)
    source_server.publish(BLS_PATH + "pr.big", b"b" * 20_000, when)
    source_server.always(BLS_PATH + "pr.big", "trickle")
    return env


def test_a_file_abandoned_three_times_fails_its_survey_and_the_run_ends(source_server, trickled, queue, tmp_path):
    from chalicelib.pipeline.ingestion import IngestionFailed

    store = LocalStore(tmp_path / "data")
    # GIVEN a source too slow to send pr.big within one invocation (every invocation ends mid-transfer)
    first = handlers.scheduled_ingestion(trickled, Context(), deadlines=ticking_deadlines())
    assert first["mirror"]["surveys"][0]["abandoned"] == ["pr.big"] and not first["mirror"]["complete"]
    invocations = 1
    # WHEN the continuations follow one another
    with pytest.raises(IngestionFailed, match="pr.big was abandoned unfinished at the end of 3 invocations"):
        while messages := queue():
            (message,) = messages
            invocations += 1
            handlers.continue_ingestion(message, trickled, Context(), sleep=lambda _: None,
                                        deadlines=ticking_deadlines())
    # THEN the third abandon fails the survey and ends the run: 3 invocations, no further message
    assert invocations == continuation.MAX_ABANDONS == 3 and queue() == []
    run, _ = read_run(store)
    assert run.ended and not run.holds_lease(time.time()) and run.summary()["complete"] is False
    assert "pr" in run.failed_surveys and run.abandoned == {"pr/pr.big": 3}
    # AND the small file was stored, the big one never (no partial object)
    assert store.exists("bls/pr/pr.small") and not store.exists("bls/pr/pr.big")


def test_a_run_stops_at_its_invocation_cap(source_server, env, queue, tmp_path, monkeypatch):
    from chalicelib.pipeline.ingestion import IngestionFailed

    monkeypatch.setattr(continuation, "MAX_INVOCATIONS", 2)
    store = LocalStore(tmp_path / "data")
    # GIVEN invocations that never get to transfer anything (budget 0)
    budget0 = env | {"MIRROR_TIME_BUDGET": "0"}
    handlers.scheduled_ingestion(budget0, Context())
    (message,) = queue()
    # WHEN the run reaches its cap
    with pytest.raises(IngestionFailed, match="cap of 2 invocations"):
        handlers.continue_ingestion(message, budget0, Context(), sleep=lambda _: None)
    # THEN it is stopped, the lease is free, no message follows, and a redelivery is dropped
    run, _ = read_run(store)
    assert run.stopped and not run.holds_lease(time.time()) and queue() == []
    assert handlers.continue_ingestion(message, budget0, Context())["dropped"] is True
    # AND the next daily run starts a new run
    assert handlers.scheduled_ingestion(env, Context())["mirror"]["complete"]
    assert read_run(store)[0].run_id != run.run_id


def test_a_message_delivered_twice_runs_once(source_server, env, queue, tmp_path):
    handlers.scheduled_ingestion(env | {"MIRROR_TIME_BUDGET": "0"}, Context())
    (message,) = queue()
    handlers.continue_ingestion(message, env | {"MIRROR_TIME_BUDGET": "0"}, Context(), sleep=lambda _: None)
    (second,) = queue()
    # the first message delivered again (after the second was sent) is stale
    assert handlers.continue_ingestion(message, env, Context())["dropped"] is True
    assert handlers.continue_ingestion(second, env, Context(), sleep=lambda _: None)["mirror"]["complete"]


# --------------------------------------------------------------------------- issue 19, point 9


@pytest.mark.parametrize("damage", [
    {"lease_until": "soon"}, {"lease_until": 1e300}, {"last_request_at": 4e9}, {"invocations": -3},
    {"complete": "yes"}, {"pending_by_survey": [1]}, {"started_at": float("nan")},
])
def test_a_damaged_run_record_is_reported_and_replaced(source_server, env, queue, tmp_path, damage):
    from chalicelib.pipeline.ingestion import IngestionFailed

    store = LocalStore(tmp_path / "data")
    now = time.time()
    record = {"run_id": "old", "started_at": now - 100, "lease_until": now - 10, "complete": True,
              "invocations": 1, "last_request_at": now - 50} | damage
    store.put(MIRROR_RUN_KEY, json.dumps(record).encode())
    # WHEN the daily run fires
    with pytest.raises(IngestionFailed, match="is damaged"):
        handlers.scheduled_ingestion(env, Context())
    # THEN the population still ran, and the record was replaced by a valid one
    assert store.exists(POPULATION_KEY)
    body = store.read(MIRROR_RUN_KEY).body
    replaced = continuation.parse_run(body, time.time())
    assert replaced is not None and replaced.problems == ()
    assert replaced.lease_until <= time.time() + continuation.LEASE_SECONDS
    assert replaced.last_request_at <= time.time()
    # AND no lease is held beyond one lease length: a run starts after that at the latest
    assert continuation.start_run(store, time.time() + continuation.LEASE_SECONDS + 1) is not None


def test_a_damaged_record_that_is_not_json_is_replaced_and_the_mirror_runs(source_server, env, queue, tmp_path):
    from chalicelib.pipeline.ingestion import IngestionFailed

    LocalStore(tmp_path / "data").put(MIRROR_RUN_KEY, b"{not json")
    with pytest.raises(IngestionFailed, match="is damaged"):
        handlers.scheduled_ingestion(env, Context())
    store = LocalStore(tmp_path / "data")
    assert store.exists(POPULATION_KEY) and store.exists("bls/pr/pr.series")
    assert read_run(store)[0].complete


def test_a_last_request_in_the_future_never_makes_a_continuation_wait_more_than_one_interval(
        source_server, env, queue, tmp_path):
    from chalicelib.pipeline.ingestion import IngestionFailed

    store = LocalStore(tmp_path / "data")
    handlers.scheduled_ingestion(env | {"MIRROR_TIME_BUDGET": "0"}, Context())
    (message,) = queue()
    document = json.loads(store.read(MIRROR_RUN_KEY).body) | {"last_request_at": 4e9}
    store.put(MIRROR_RUN_KEY, json.dumps(document).encode())
    waits: list[float] = []
    with pytest.raises(IngestionFailed, match="last_request_at"):
        handlers.continue_ingestion(message, env, Context(), sleep=waits.append)
    # (the clamped record says "a request just now": at most one interval, or none if it has passed already)
    assert all(wait <= 1 / float(env["HTTP_REQUESTS_PER_SECOND"]) for wait in waits)
    assert read_run(store)[0].complete  # the work was done; the damage was reported


@pytest.mark.parametrize("body", [b"{not json", b'{"run_id": "x", "started_at": 1, "lease_until": "soon"}'])
def test_status_and_dashboard_show_a_damaged_run_record_instead_of_failing(tmp_path, monkeypatch, body):
    from chalice.test import Client

    from app import app
    from support.paths import REPO
    from support.web import STAGE

    store = LocalStore(tmp_path / "data")
    store.put(MIRROR_RUN_KEY, body)
    monkeypatch.setenv("DATA_STORE", str(tmp_path / "data"))
    with Client(app, stage_name=STAGE, project_dir=str(REPO)) as client:
        response = client.http.get("/api/status")
        assert response.status_code == 200
        problems = json.loads(response.body)["mirror_problems"]
        assert problems and ("damaged" in problems[0] or "cannot be read" in problems[0])
        page = client.http.get("/").body.decode()
    assert "mirror-problem" in page and "damaged" in page


def test_wait_for_rate_never_waits_more_than_one_interval():
    run = continuation.MirrorRun("r", 0.0, 0.0, last_request_at=4e9)
    waits: list[float] = []
    waited = continuation.wait_for_rate(run, 2.0, now=lambda: 1_000.0, sleep=waits.append)
    assert waits == [0.5] and waited == 0.5
