"""`bls-pipeline run`: ingestion, then analysis of every notification it caused.

- On a local folder (or S3 without an emulator): ingestion writes through a
  `handoff.NotifyingStore`, which turns each write of a report input into the S3-event
  message S3 would send; the messages are handed, in order, to the same `analyze` the
  Lambda handler calls.
- With `DATA_STORE=s3://...` on an S3 + SQS emulator (`AWS_ENDPOINT_URL`): `handoff.QueueHandOff`
  sets up the real bucket notification configuration on a queue; ingestion runs; the queue
  is drained. See docs/pipeline.md ("Run the same flow locally").
- The silver layer (`chalicelib.lake`): locally, each write/delete of a lake input becomes a
  message for the same handler as the `lake` Lambda; then (both modes) `lake.sync.reconcile`
  catches up on sources that changed before the lake existed — it converts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.errors import ConfigError, PipelineError
from chalicelib.core.s3_events import store_location
from chalicelib.core.settings import Settings
from chalicelib.core.store import S3Store, Store, open_store
from chalicelib.gold import sync as gold
from chalicelib.lake.messages import changed_keys, handle_lake_message
from chalicelib.lake.sync import reconcile
from chalicelib.pipeline import events
from chalicelib.pipeline.analysis import AnalysisResult, analyze, catch_up, reports_step
from chalicelib.pipeline.ingestion import IngestionResult, Progress, Step, ingest
from chalicelib.reports.stored import StoredReports, read_stored_reports
from workstation.handoff import MessageOutcome, NotifyingStore, QueueHandOff, emulator_endpoints, handle_message
from workstation.snapshot import SNAPSHOT_CONTACT, offline_sources

DEFAULT_QUEUE_NAME = "bls-pipeline-analysis"


@dataclass
class RunResult:
    """Everything `run` did, for the CLI (text and `--json`)."""

    mode: str
    store: str
    ingestion: IngestionResult
    messages: list[MessageOutcome]
    offline: bool = False
    queue: str | None = None
    reports: StoredReports | None = None
    notes: list[str] = field(default_factory=list)
    lake: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when ingestion, every message's analysis and every silver conversion succeeded."""
        return self.ingestion.ok and all(m.ok for m in self.messages) and all(
            entry.get("action") != "failed" for entry in self.lake)

    def to_dict(self) -> dict[str, Any]:
        """The `run --json` document."""
        return {
            "ok": self.ok,
            "mode": self.mode,
            "offline": self.offline,
            "store": self.store,
            "queue": self.queue,
            "ingestion": self.ingestion.to_dict(),
            "messages": [m.to_dict() for m in self.messages],
            "reports": self.reports and self.reports.to_dict(),
            "lake": self.lake,
            "notes": self.notes,
        }


def run(
    settings: Settings,
    *,
    offline: bool = False,
    queue_name: str | None = None,
    steps: Iterable[tuple[str, Step]] | None = None,
    progress: Progress = None,
    analyze_messages: bool = True,
    wait_seconds: int = 1,
    include_annual: bool = False,
) -> RunResult:
    """Ingestion, then analysis of every notification it caused, locally or through a real queue."""
    if offline:
        with offline_sources(settings) as offline_settings:
            result = run(offline_settings, queue_name=queue_name, steps=steps, progress=progress,
                         analyze_messages=analyze_messages, wait_seconds=wait_seconds,
                         include_annual=include_annual)
        result.offline = True
        note = (
            "offline: used the bundled snapshot of real data (BLS pr directory of 2026-08-06, "
            "DataUSA population response of 2025-10) served from a local server, not the live sources"
        )
        if not settings.bls_contact:
            note += f"; User-Agent contact: placeholder {SNAPSHOT_CONTACT} (BLS_CONTACT is not set)"
        result.notes.insert(0, note)
        return result
    store = open_store(settings.data_store)
    reports = reports_step(include_annual=include_annual)

    def handle(body: str) -> AnalysisResult:
        return analyze(body, settings, store, reports=reports)

    if isinstance(store, S3Store) and emulator_endpoints():
        return _run_with_queue(settings, store, queue_name or DEFAULT_QUEUE_NAME, steps, progress, handle,
                               analyze_messages, wait_seconds)
    messages: list[str] = []
    lake_messages: list[str] = []
    notifying = NotifyingStore.around(store, settings, messages.append, lake_messages.append)
    ingestion = ingest(settings, notifying, steps=steps, progress=progress, record=analyze_messages)
    handled = [handle_message(handle, f"local-{number}", body)
               for number, body in enumerate(messages if analyze_messages else [], 1)]
    if analyze_messages:
        handled += catch_up_step(settings, store, reports)
    result = RunResult("local", store.url, ingestion, handled)
    if analyze_messages:
        result.lake = lake_step(store, lake_messages)
    if not analyze_messages:
        result.notes.append(f"{len(messages)} notification(s) not analyzed (dry run)")
    result.reports = read_stored_reports(store)
    return result


def _run_with_queue(settings: Settings, store: S3Store, queue_name: str, steps: Any, progress: Progress,
                    handle: Callable[[str], AnalysisResult], analyze_messages: bool,
                    wait_seconds: int) -> RunResult:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    try:
        sqs = boto3.client("sqs")
        hand_off = QueueHandOff(store.client, sqs, store.bucket,
                                events.notification_filters(settings, store.prefix), queue_name)
        changed = hand_off.setup()
    except NoRegionError:
        raise ConfigError("AWS_DEFAULT_REGION is not set: the S3/SQS endpoint needs a region, "
                          "e.g. `export AWS_DEFAULT_REGION=us-east-1`") from None
    except (BotoCoreError, ClientError) as error:
        raise PipelineError(f"could not set up the notification queue {queue_name!r}: {error}") from None
    ingestion = ingest(settings, store, steps=steps, progress=progress, record=analyze_messages)
    handled = hand_off.drain(handle, wait_seconds=wait_seconds) if analyze_messages else []
    if analyze_messages:
        handled += catch_up_step(settings, store, None)
    result = RunResult("queue", store.url, ingestion, handled, queue=hand_off.queue_arn)
    if analyze_messages:
        result.lake = lake_step(store, [])
    if changed:
        result.notes.append(f"configured S3 notifications of {store.bucket} → {hand_off.queue_arn}")
    result.reports = read_stored_reports(store)
    return result


def catch_up_step(settings: Settings, store: Store,
                  reports: Callable[[Settings, Store], Any] | None) -> list[MessageOutcome]:
    """Reports missing from the store are rebuilt by the run (no event comes for them: issue 19)."""
    try:
        rebuilt = catch_up(settings, store, reports=reports)
    except PipelineError as error:
        return [MessageOutcome("catch-up", error=str(error))]
    return [MessageOutcome("catch-up", rebuilt)] if rebuilt is not None else []


def lake_step(store: Store, bodies: list[str]) -> list[dict[str, Any]]:
    """Each lake message through the Lambda's silver handler, then a reconcile pass, then the gold layer of
    every survey once, after all of its silver (only changes are listed; `layer: gold` marks gold entries).

    In Lambda the gold step follows each message (`chalicelib.pipeline.handlers.handle_lake_message`);
    here a run's many messages are one batch, so each survey's gold is built once, from its final silver."""
    entries = [_lake_message(store, f"lake-{number}", body) for number, body in enumerate(bodies, 1)]
    bucket, prefix = store_location(store)
    named = {key for body in bodies for key in changed_keys(body, bucket=bucket, store_prefix=prefix)}
    caught_up = reconcile(store, exclude=named)
    built = gold.reconcile(store)
    return entries + [r.to_dict() for r in [*caught_up, *built] if r.action in ("written", "deleted", "failed")]


def _lake_message(store: Store, message_id: str, body: str) -> dict[str, Any]:
    """One lake message as the `lake` Lambda handles it: its result, or the error (it would be retried)."""
    try:
        return {"message_id": message_id, **handle_lake_message(body, store).to_dict()}
    except PipelineError as error:
        return {"message_id": message_id, "action": "failed", "error": str(error)}
