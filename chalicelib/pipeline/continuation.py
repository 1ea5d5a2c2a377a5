"""A mirror run that spans Lambda invocations: its record, its lease, its next message.

`_state/mirror-run.json` (one document, conditional writes) says which run is going on:
its id, whether it is complete, how many invocations it took, the wall-clock time of its
last source request (so the next invocation keeps the per-host request rate), and until
when it holds the lease. The daily ingestion starts a run only when no lease is held; an
incomplete run sends a message `{"run_id": ...}` to the continuation queue, and the
function consuming it (reserved concurrency 1, like the daily one) continues that run and
nothing else — a stale or duplicate message is dropped. Never two mirror runs at once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from chalicelib.core.errors import NotFound, PreconditionFailed, StoreError
from chalicelib.core.layout import MIRROR_RUN_KEY
from chalicelib.core.log import log_event
from chalicelib.core.store import Store
from chalicelib.mirror.results import MirrorResult

# How long a run keeps the lease after an invocation: one more invocation, with margin, so the
# daily schedule cannot start another run between two continuations; a chain that died (its
# message dead-lettered) frees the lease after this long.
LEASE_SECONDS = 2 * 900 + 300


@dataclass(frozen=True)
class MirrorRun:
    """The record of the current (or last) mirror run."""

    run_id: str
    started_at: float  # wall clock (epoch seconds)
    lease_until: float
    complete: bool = False
    invocations: int = 0
    pending: int | None = None
    not_reached: int = 0
    last_request_at: float = 0.0  # wall clock of the end of the last invocation's requests
    pending_by_survey: dict[str, int | None] = field(default_factory=dict)  # None: not reached yet

    def summary(self) -> dict[str, Any]:
        """What /api/status shows of the run: complete, pending work (per survey), invocations."""
        return {"run_id": self.run_id, "complete": self.complete, "pending": self.pending,
                "pending_by_survey": self.pending_by_survey, "surveys_not_reached": self.not_reached,
                "invocations": self.invocations}

    def holds_lease(self, now: float) -> bool:
        """True while an incomplete run may still be continued."""
        return not self.complete and now < self.lease_until


def read_run(store: Store) -> tuple[MirrorRun | None, str | None]:
    """The run record and its ETag (None, None if there is none)."""
    try:
        stored = store.read(MIRROR_RUN_KEY)
    except NotFound:
        return None, None
    try:
        return MirrorRun(**json.loads(stored.body)), stored.etag
    except (TypeError, ValueError) as error:
        raise StoreError(f"{MIRROR_RUN_KEY} is damaged ({error}); delete it to start a new run") from None


def write_run(store: Store, run: MirrorRun, etag: str | None) -> str:
    """Write the record only if it is still the one read (PreconditionFailed otherwise)."""
    body = json.dumps(asdict(run), indent=1, sort_keys=True).encode() + b"\n"
    return store.put(MIRROR_RUN_KEY, body, content_type="application/json", if_none_match=etag is None, if_match=etag)


def start_run(store: Store, now: float) -> tuple[MirrorRun, str] | None:
    """Take the lease for a new run; None if another run holds it (or took it just now)."""
    current, etag = read_run(store)
    if current is not None and current.holds_lease(now):
        log_event("mirror_run_busy", run_id=current.run_id, lease_until=current.lease_until)
        return None
    last_request = current.last_request_at if current is not None else 0.0
    run = MirrorRun(uuid.uuid4().hex, now, now + LEASE_SECONDS, last_request_at=last_request)
    try:
        return run, write_run(store, run, etag)
    except PreconditionFailed:
        return None


def resume_run(store: Store, run_id: str, now: float) -> tuple[MirrorRun, str] | None:
    """The run a continuation message names, with its lease renewed; None if stale or finished."""
    current, etag = read_run(store)
    if current is None or current.run_id != run_id or current.complete:
        log_event("mirror_continuation_dropped", run_id=run_id,
                  current=current.run_id if current else None, complete=current.complete if current else None)
        return None
    run = replace(current, lease_until=now + LEASE_SECONDS)
    try:
        return run, write_run(store, run, etag)
    except PreconditionFailed:
        return None


def finish_invocation(store: Store, run: MirrorRun, etag: str, mirror: MirrorResult | None,
                      now: float) -> MirrorRun:
    """Record what this invocation's mirror did; a complete run frees the lease, and so does a mirror
    step that crashed (`mirror` None: the next daily run starts afresh)."""
    complete = mirror is None or mirror.complete
    done = replace(
        run,
        complete=complete,
        invocations=run.invocations + 1,
        pending=mirror.pending_files() if mirror is not None else None,
        not_reached=len(mirror.not_reached()) if mirror is not None else 0,
        pending_by_survey=mirror.pending_by_survey() if mirror is not None else {},
        last_request_at=now,
        lease_until=now if complete else now + LEASE_SECONDS,
    )
    write_run(store, done, etag)
    return done


def wait_for_rate(run: MirrorRun, requests_per_second: float, now: Callable[[], float] = time.time,
                  sleep: Callable[[float], None] = time.sleep) -> float:
    """Sleep until one request interval has passed since the previous invocation's last request."""
    wait = run.last_request_at + 1.0 / requests_per_second - now()
    if wait > 0:
        sleep(wait)
    return max(wait, 0.0)


def send_continuation(run: MirrorRun, queue_url: str | None, client: Any = None) -> None:
    """Ask for the next invocation of `run` on `queue_url` (`Settings.continuation_queue_url`, from
    CONTINUATION_QUEUE_URL; None: nothing is sent)."""
    if not queue_url:
        log_event("mirror_continuation_not_sent", run_id=run.run_id, reason="CONTINUATION_QUEUE_URL is not set")
        return
    if client is None:
        import boto3

        client = boto3.client("sqs")
    client.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"run_id": run.run_id}))
    log_event("mirror_continuation_sent", run_id=run.run_id, invocations=run.invocations, pending=run.pending)


def message_run_id(body: str) -> str | None:
    """The run id of a continuation message, or None if the body is not one."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    run_id = document.get("run_id") if isinstance(document, dict) else None
    return run_id if isinstance(run_id, str) and run_id else None


__all__ = [
    "LEASE_SECONDS", "MirrorRun", "finish_invocation", "message_run_id", "read_run", "resume_run",
    "send_continuation", "start_run", "wait_for_rate",
]
