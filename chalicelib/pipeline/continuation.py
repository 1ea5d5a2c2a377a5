"""A mirror run that spans Lambda invocations: its record, its lease, its next message.

`_state/mirror-run.json` (one document, conditional writes) says which run is going on:
its id, whether it is complete, how many invocations it took, the wall-clock time of its
last source request (so the next invocation keeps the per-host request rate), and until
when it holds the lease. The daily ingestion starts a run only when no lease is held; an
incomplete run sends a message `{"run_id": ..., "invocation": n}` to the continuation queue,
and the function consuming it (reserved concurrency 1, like the daily one) continues that run
and nothing else — a stale or duplicate message is dropped. Never two mirror runs at once.

Bounds (docs/every-survey.md, "Bounds of a run"): a file abandoned at an invocation's end
`MAX_ABANDONS` times fails its survey for the rest of the run; a run stops after
`MAX_INVOCATIONS` invocations. Both end in an error the handler raises (the ingestion alarm).

The record is validated when read (`parse_run`): types, ranges, times clamped to now ± the
lease length; a damaged record is reported (`RunRecordDamaged`) and replaced.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from chalicelib.core.errors import NotFound, PreconditionFailed, StoreError
from chalicelib.core.layout import MIRROR_RUN_KEY
from chalicelib.core.log import log_error, log_event
from chalicelib.core.store import Store
from chalicelib.mirror.results import MirrorResult

# How long a run keeps the lease after an invocation: one more invocation, with margin, so the
# daily schedule cannot start another run between two continuations; a chain that died (its
# message dead-lettered) frees the lease after this long.
LEASE_SECONDS = 2 * 900 + 300
# A file abandoned at this many invocation ends (it does not finish within one invocation)
# fails its survey for the rest of the run.
MAX_ABANDONS = 3
# A run stops after this many invocations (15 min each: 6 h of Lambda time at most). A first
# sync of the whole of time.series takes ~4-8 (docs/every-survey.md); what a stopped run left
# is done by the next daily run, which starts from what is stored.
MAX_INVOCATIONS = 24
_MAX_COUNT = 10**9
MIRROR_STEP_FAILED = "mirror: the mirror step failed (see its error)"
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class RunRecordDamaged(StoreError):
    """The run record did not pass validation; `replaced` is the lease taken over it (if any)."""

    def __init__(self, message: str, replaced: tuple[MirrorRun, str] | None = None) -> None:
        super().__init__(message)
        self.replaced = replaced


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
    next_message: int = 0  # the `invocation` number the next accepted continuation message carries
    abandoned: dict[str, int] = field(default_factory=dict)  # "survey/file" -> invocation ends it was abandoned at
    failed_surveys: dict[str, str] = field(default_factory=dict)  # survey -> why it was given up for this run
    stopped: str | None = None  # why the run ended before completing (a bound was reached)
    problems: tuple[str, ...] = ()  # validation problems of the stored record (not stored)

    def summary(self) -> dict[str, Any]:
        """What /api/status shows of the run: complete, pending work (per survey), invocations, errors."""
        return {"run_id": self.run_id, "complete": self.complete and not self.failed_surveys and not self.stopped,
                "pending": self.pending, "pending_by_survey": self.pending_by_survey,
                "surveys_not_reached": self.not_reached, "invocations": self.invocations,
                "abandoned": self.abandoned, "failed_surveys": self.failed_surveys, "stopped": self.stopped,
                "problems": list(self.problems)}

    @property
    def ended(self) -> bool:
        """True when no continuation is due (complete, or stopped at a bound)."""
        return self.complete or self.stopped is not None

    def holds_lease(self, now: float) -> bool:
        """True while an incomplete run may still be continued."""
        return not self.ended and now < self.lease_until

    def to_json(self) -> bytes:
        """The stored document (without `problems`)."""
        document = asdict(self)
        del document["problems"]
        return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"


def _number(document: Mapping[str, Any], name: str, default: float, low: float, high: float,
            problems: list[str]) -> float:
    """A finite number in [low, high]; out of range: clamped; not a number: `default` (both reported)."""
    value = document.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(f"{name}: {value!r} is not a finite number")
        return default
    if not low <= value <= high:
        problems.append(f"{name}: {value!r} is outside [{low:.0f}, {high:.0f}]: clamped")
        return float(min(max(value, low), high))
    return float(value)


def _count(value: Any, name: str, problems: list[str], *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        problems.append(f"{name}: {value!r} is not a count")
        return None if optional else 0
    return value


def parse_run(body: bytes, now: float) -> MirrorRun | None:
    """The stored record, validated: types and ranges, times clamped to now ± LEASE_SECONDS.

    Returns None when the record cannot name a run (not JSON, no valid run id); otherwise a
    record whose `problems` lists what was wrong (and repaired). Never raises.
    """
    try:
        document = json.loads(body)
    except ValueError as error:
        log_error("mirror_run_record_damaged", error, key=MIRROR_RUN_KEY)
        return None
    if not isinstance(document, dict):
        return None
    problems: list[str] = []
    run_id = document.get("run_id")
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        return None
    known = {name for name in MirrorRun.__dataclass_fields__ if name != "problems"}
    if unknown := sorted(set(document) - known):
        problems.append(f"unknown fields {unknown}")
    horizon = now + LEASE_SECONDS
    started_at = _number(document, "started_at", now, 0.0, now + 1.0, problems)
    # A lease is never longer than LEASE_SECONDS from now; unreadable: free (the mirror runs, the error is raised).
    lease_until = _number(document, "lease_until", 0.0, 0.0, horizon, problems)
    # The last request cannot be in the future (a wait would follow it): clamped to now.
    last_request_at = _number(document, "last_request_at", now, 0.0, now, problems)
    complete = document.get("complete", False)
    if not isinstance(complete, bool):
        problems.append(f"complete: {complete!r} is not a boolean")
        complete = True  # nothing to continue: the next daily run starts afresh
    invocations = _count(document.get("invocations", 0), "invocations", problems) or 0
    pending = _count(document.get("pending"), "pending", problems, optional=True)
    not_reached = _count(document.get("not_reached", 0), "not_reached", problems) or 0
    next_message = _count(document.get("next_message", 0), "next_message", problems) or 0
    by_survey: dict[str, int | None] = {}
    raw = document.get("pending_by_survey", {})
    if isinstance(raw, dict):
        for name, value in raw.items():
            by_survey[str(name)] = _count(value, f"pending_by_survey[{name!r}]", problems, optional=True)
    else:
        problems.append(f"pending_by_survey: {raw!r} is not an object")
    abandoned: dict[str, int] = {}
    raw = document.get("abandoned", {})
    if isinstance(raw, dict):
        for name, value in raw.items():
            abandoned[str(name)] = _count(value, f"abandoned[{name!r}]", problems) or 0
    else:
        problems.append(f"abandoned: {raw!r} is not an object")
    failed: dict[str, str] = {}
    raw = document.get("failed_surveys", {})
    if isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values()):
        failed = {str(k): v for k, v in raw.items()}
    else:
        problems.append(f"failed_surveys: {raw!r} is not an object of texts")
    stopped = document.get("stopped")
    if stopped is not None and not isinstance(stopped, str):
        problems.append(f"stopped: {stopped!r} is not a text")
        stopped = str(stopped)
    return MirrorRun(run_id, started_at, lease_until, complete, invocations, pending, not_reached, last_request_at,
                     by_survey, next_message, abandoned, failed, stopped, tuple(problems))


def read_run(store: Store, now: float | None = None) -> tuple[MirrorRun | None, str | None]:
    """The run record (validated, see `parse_run`) and its ETag (None, None if there is none).

    RunRecordDamaged if the record names no run at all (not JSON, no run id)."""
    try:
        stored = store.read(MIRROR_RUN_KEY)
    except NotFound:
        return None, None
    run = parse_run(stored.body, time.time() if now is None else now)
    if run is None:
        raise RunRecordDamaged(f"{MIRROR_RUN_KEY} is damaged (not a run record)", None)
    return run, stored.etag


def _read_for_update(store: Store, now: float) -> tuple[MirrorRun | None, str | None, str | None]:
    """(the validated record, its ETag, what was wrong with it or None)."""
    try:
        stored = store.read(MIRROR_RUN_KEY)
    except NotFound:
        return None, None, None
    run = parse_run(stored.body, now)
    if run is None:
        return None, stored.etag, f"{MIRROR_RUN_KEY} is damaged (not a run record): replaced"
    if run.problems:
        return run, stored.etag, f"{MIRROR_RUN_KEY} is damaged ({'; '.join(run.problems)}): replaced"
    return run, stored.etag, None


def write_run(store: Store, run: MirrorRun, etag: str | None) -> str:
    """Write the record only if it is still the one read (PreconditionFailed otherwise)."""
    return store.put(MIRROR_RUN_KEY, run.to_json(), content_type="application/json", if_none_match=etag is None,
                     if_match=etag)


def start_run(store: Store, now: float) -> tuple[MirrorRun, str] | None:
    """Take the lease for a new run; None if another run holds it (or took it just now).

    A damaged record is replaced (by the repaired record if its clamped lease is still held, else by
    the new run) and RunRecordDamaged raised, carrying the lease taken (`replaced`) if any."""
    current, etag, damage = _read_for_update(store, now)
    if current is not None and current.holds_lease(now):
        if damage is not None:
            _replace_damaged(store, replace(current, problems=()), etag, damage, None)
        log_event("mirror_run_busy", run_id=current.run_id, lease_until=current.lease_until)
        return None
    last_request = current.last_request_at if current is not None else 0.0
    run = MirrorRun(uuid.uuid4().hex, now, now + LEASE_SECONDS, last_request_at=last_request)
    try:
        started = run, write_run(store, run, etag)
    except PreconditionFailed:
        return None
    if damage is not None:
        log_error("mirror_run_record_damaged", RunRecordDamaged(damage), key=MIRROR_RUN_KEY)
        raise RunRecordDamaged(damage, started)
    return started


def _replace_damaged(store: Store, run: MirrorRun, etag: str | None, damage: str,
                     taken: tuple[MirrorRun, str] | None) -> None:
    try:
        write_run(store, run, etag)
    except PreconditionFailed:
        pass  # someone wrote it meanwhile: theirs stands
    log_error("mirror_run_record_damaged", RunRecordDamaged(damage), key=MIRROR_RUN_KEY)
    raise RunRecordDamaged(damage, taken)


def resume_run(store: Store, run_id: str, now: float, invocation: int | None = None) -> tuple[MirrorRun, str] | None:
    """The run a continuation message names, with its lease renewed; None if stale, duplicate or ended.

    `invocation` is the message's number: only the one the record expects (`next_message`) is
    accepted, so a message SQS delivers twice, or one superseded by a newer message, does nothing.
    A damaged record that still names this run is repaired and the run continues (RunRecordDamaged
    carrying it is raised), otherwise it is replaced by an ended record."""
    current, etag, damage = _read_for_update(store, now)
    stale = (current is None or current.run_id != run_id or current.ended
             or (invocation is not None and invocation != current.next_message))
    if stale:
        if damage is not None:
            ended = (replace(current, complete=True, lease_until=now, problems=()) if current is not None
                     else MirrorRun(uuid.uuid4().hex, now, now, complete=True, last_request_at=now))
            _replace_damaged(store, ended, etag, damage, None)
        log_event("mirror_continuation_dropped", run_id=run_id, invocation=invocation,
                  current=current.run_id if current else None, ended=current.ended if current else None,
                  expected=current.next_message if current else None)
        return None
    assert current is not None
    run = replace(current, lease_until=now + LEASE_SECONDS, problems=())
    try:
        resumed = run, write_run(store, run, etag)
    except PreconditionFailed:
        return None
    if damage is not None:
        log_error("mirror_run_record_damaged", RunRecordDamaged(damage), key=MIRROR_RUN_KEY)
        raise RunRecordDamaged(damage, resumed)
    return resumed


@dataclass(frozen=True)
class Outcome:
    """What `finish_invocation` decided: the new record, whether to send the next message, the errors to raise."""

    run: MirrorRun
    send: bool
    errors: tuple[str, ...]


def finish_invocation(store: Store, run: MirrorRun, etag: str, mirror: MirrorResult | None, now: float, *,
                      redelivered: bool = False, max_invocations: int | None = None,
                      max_abandons: int | None = None) -> MirrorRun:
    """Record what this invocation's mirror did (see `conclude`); the new record."""
    return conclude(store, run, etag, mirror, now, redelivered=redelivered, max_invocations=max_invocations,
                    max_abandons=max_abandons).run


def conclude(store: Store, run: MirrorRun, etag: str, mirror: MirrorResult | None, now: float, *,
             redelivered: bool = False, max_invocations: int | None = None,
             max_abandons: int | None = None) -> Outcome:
    """Record what this invocation's mirror did, and decide what comes next.

    - A failed invocation (`mirror` None: the step crashed; a survey with an error or a failed file,
      other than one given up) leaves the run incomplete with its lease: it is tried again — by the
      SQS redelivery of the same message when `redelivered` (the continuation function raises), else
      by a new message. A survey that failed is not complete.
    - A file abandoned at the invocation's end for the `max_abandons`-th time fails its survey for the
      rest of the run (the next invocations skip it); the run goes on with the other surveys.
    - The `max_invocations`-th invocation of a run that is not complete stops it (lease freed).
    `errors` are raised by the handler (the ingestion alarm); the run ends complete only when every
    survey is complete, and then the surveys given up are raised once more.
    """
    max_invocations = MAX_INVOCATIONS if max_invocations is None else max_invocations
    max_abandons = MAX_ABANDONS if max_abandons is None else max_abandons
    invocations = run.invocations + 1
    abandoned = dict(run.abandoned)
    failed_surveys = dict(run.failed_surveys)
    errors: list[str] = []
    if mirror is None:
        errors.append(MIRROR_STEP_FAILED)
        transient = True
    else:
        for survey in mirror.surveys:
            if survey.survey in failed_surveys:
                continue
            for name in survey.abandoned:
                key = f"{survey.survey}/{name}"
                abandoned[key] = abandoned.get(key, 0) + 1
                if abandoned[key] >= max_abandons and survey.survey not in failed_surveys:
                    failed_surveys[survey.survey] = (
                        f"{name} was abandoned unfinished at the end of {abandoned[key]} invocations (the source "
                        f"is too slow to send it within one): survey {survey.survey} failed for this run")
                    errors.append(f"mirror: {failed_surveys[survey.survey]}")
            finished = set(survey.added) | set(survey.updated) | set(survey.unchanged) | set(survey.failed)
            for name in finished:
                abandoned.pop(f"{survey.survey}/{name}", None)
        own = [s for s in mirror.surveys if s.survey not in failed_surveys]
        failures = [f"{s.survey}: {'; '.join(s.errors) or f'{len(s.failed)} file(s) failed'}"
                    for s in own if not s.ok]
        transient = bool(failures)
        errors.extend(f"mirror: {failure}" for failure in failures)
    complete = (mirror is not None and not transient
                and all(s.complete for s in mirror.surveys if s.survey not in failed_surveys))
    stopped = None
    if not complete and invocations >= max_invocations:
        stopped = (f"the run reached its cap of {max_invocations} invocations without completing: stopped "
                   "(the next daily run starts a new one)")
        errors.append(f"mirror: {stopped}")
    if complete and failed_surveys and not errors:
        errors.extend(f"mirror: {reason}" for reason in failed_surveys.values())
    ended = complete or stopped is not None
    # A failed continuation is retried by SQS with the same message: the record keeps accepting it.
    send = not ended and not (transient and redelivered)
    done = replace(
        run,
        complete=complete,
        invocations=invocations,
        pending=mirror.pending_files() if mirror is not None else run.pending,
        not_reached=len(mirror.not_reached()) if mirror is not None else run.not_reached,
        pending_by_survey=(mirror.pending_by_survey() | {s.survey: len(s.pending) for s in mirror.surveys
                                                         if not s.ok and s.survey not in failed_surveys}
                           if mirror is not None else run.pending_by_survey),
        last_request_at=now,
        lease_until=now if ended else now + LEASE_SECONDS,
        next_message=invocations if send else run.next_message,
        abandoned=abandoned,
        failed_surveys=failed_surveys,
        stopped=stopped,
        problems=(),
    )
    write_run(store, done, etag)
    if errors:
        log_event("mirror_run_failed", run_id=run.run_id, invocations=invocations, errors=errors, ended=ended)
    return Outcome(done, send, tuple(errors))


def wait_for_rate(run: MirrorRun, requests_per_second: float, now: Callable[[], float] = time.time,
                  sleep: Callable[[float], None] = time.sleep) -> float:
    """Sleep until one request interval has passed since the previous invocation's last request
    (never longer than one interval, whatever the record says)."""
    interval = 1.0 / requests_per_second
    wait = min(run.last_request_at + interval - now(), interval)
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
    body = json.dumps({"run_id": run.run_id, "invocation": run.next_message})
    client.send_message(QueueUrl=queue_url, MessageBody=body)
    log_event("mirror_continuation_sent", run_id=run.run_id, invocations=run.invocations, pending=run.pending)


def message_run_id(body: str) -> str | None:
    """The run id of a continuation message, or None if the body is not one."""
    return parse_message(body)[0]


def parse_message(body: str) -> tuple[str | None, int | None]:
    """(run id, invocation number) of a continuation message; (None, None) if the body is not one."""
    try:
        document = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(document, dict):
        return None, None
    run_id = document.get("run_id")
    number = document.get("invocation")
    if not isinstance(run_id, str) or not run_id:
        return None, None
    valid_number = isinstance(number, int) and not isinstance(number, bool) and number >= 0
    return run_id, number if valid_number else None


__all__ = [
    "LEASE_SECONDS", "MAX_ABANDONS", "MAX_INVOCATIONS", "MirrorRun", "Outcome", "RunRecordDamaged", "conclude",
    "finish_invocation", "message_run_id", "parse_message", "parse_run", "read_run", "resume_run",
    "send_continuation", "start_run", "wait_for_rate",
]
