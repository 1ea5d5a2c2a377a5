"""The pipeline: ingestion (mirror, then population) and analysis (S3 event → reports).

Three ways to run the same logic:
- Lambda (`app.py`): `scheduled_ingestion()` once a day; `handle_analysis_message(body)`
  for each SQS message carrying an S3 event of a report input.
- Locally, `python -m chalicelib run` on a folder (or on S3 without an emulator):
  ingestion writes through a `handoff.NotifyingStore`, which turns each write of a
  report input into the S3-event message S3 would send; the messages are then handed,
  in order, to the same `analyze` the Lambda handler calls.
- With `DATA_STORE=s3://...` on an S3 + SQS emulator (`AWS_ENDPOINT_URL`, e.g. moto
  server or LocalStack): `handoff.QueueHandOff` sets up the real bucket notification
  configuration from `chalicelib.events` on a queue; ingestion runs; the queue is drained.

pandas is imported only by `chalicelib.reports`, which this module imports lazily,
inside analysis: the ingestion path never loads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib import events
from chalicelib.errors import ConfigError, NotFound, PipelineError
from chalicelib.handoff import NotifyingStore, QueueHandOff, emulator_endpoints, handle_message, store_location
from chalicelib.log import log_error, log_event
from chalicelib.settings import Settings
from chalicelib.store import S3Store, Store, open_store

Progress = Callable[[str], None] | None
# A step of the ingestion: (settings, store, progress) -> a result with `.ok` and `.to_dict()`.
Step = Callable[[Settings, Store, Progress], Any]

DEFAULT_QUEUE_NAME = "bls-pipeline-analysis"
STABLE_INPUT_ATTEMPTS = 3  # report runs per message while the inputs change underneath

REPO_ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_DIR = REPO_ROOT / "tests" / "fixtures" / "bls" / "pr" / "2026-08-06"
SNAPSHOT_POPULATION = (
    REPO_ROOT / "tests" / "fixtures" / "datausa" / "population_acs1_nation_newapi_tejalk14_2025-10.json"
)
SNAPSHOT_CONTACT = "offline-run@example.invalid"
SNAPSHOT_BLS_PATH = "/pub/time.series/pr/"
SNAPSHOT_POPULATION_PATH = (
    "/tesseract/data.jsonrecords?cube=acs_yg_total_population_1&drilldowns=Year%2CNation"
    "&locale=en&measures=Population"
)
# Last-Modified of the snapshot files as BLS listed them (8:30 AM Eastern = 12:30 UTC, etc.),
# fixed so that repeated offline runs see an unchanged source.
_AUG_6_2026 = datetime(2026, 8, 6, 12, 30, tzinfo=UTC)
SNAPSHOT_TIMES = {
    "pr.period": datetime(1994, 1, 7, 20, 53, tzinfo=UTC),
    "pr.seasonal": datetime(2011, 11, 18, 21, 5, tzinfo=UTC),
    "pr.txt": datetime(2011, 11, 17, 12, 0, tzinfo=UTC),
    "pr.contacts": datetime(2022, 9, 13, 12, 0, tzinfo=UTC),
}
SNAPSHOT_POPULATION_TIME = datetime(2025, 10, 17, 0, 0, tzinfo=UTC)


class IngestionFailed(PipelineError):
    """At least one ingestion step failed (the others still ran)."""


class AnalysisFailed(PipelineError):
    """The reports could not be computed from the inputs."""


# --------------------------------------------------------------------------- ingestion


@dataclass
class StepOutcome:
    """What one ingestion step did: its result (`to_dict()`) or the error that stopped it."""

    name: str
    ok: bool
    result: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"step": self.name, "ok": self.ok, "result": self.result, "error": self.error}


@dataclass
class IngestionResult:
    """Mirror and population outcomes of one ingestion run."""

    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every step succeeded."""
        return all(step.ok for step in self.steps)

    def step(self, name: str) -> StepOutcome | None:
        """The outcome of the step called `name`, if it ran."""
        return next((s for s in self.steps if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """`{"ok", "mirror": {...}|None, "population": {...}|None, "errors": {step: message}}`."""
        out: dict[str, Any] = {"ok": self.ok, "mirror": None, "population": None}  # None: did not run
        for step in self.steps:
            out[step.name] = step.result
        out["errors"] = {s.name: s.error for s in self.steps if s.error}
        return out


def mirror_step(*, dry_run: bool = False, verify: bool = False, allow_mass_delete: bool = False) -> Step:
    """The mirror as an ingestion step (chalicelib.mirror.run_mirror)."""

    def run(settings: Settings, store: Store, progress: Progress) -> Any:
        from chalicelib.mirror import run_mirror

        return run_mirror(
            settings, store, dry_run=dry_run, verify=verify, allow_mass_delete=allow_mass_delete, progress=progress
        )

    return run


def population_step() -> Step:
    """The population fetch as an ingestion step (chalicelib.population.run_population)."""

    def run(settings: Settings, store: Store, progress: Progress) -> Any:
        from chalicelib.population import run_population

        if progress:
            progress("population: fetching")
        return run_population(settings, store)

    return run


def ingest(
    settings: Settings,
    store: Store,
    *,
    steps: Iterable[tuple[str, Step]] | None = None,
    progress: Progress = None,
    record: bool = True,
) -> IngestionResult:
    """Run the mirror, then the population; a failing step does not stop the next one.

    Never raises for a step's failure: the outcome says which step failed and why
    (callers decide: the Lambda handler raises, the CLI exits 1). With `record`, the
    outcome is kept at INGESTION_RECORD_KEY (see `record_ingestion`).
    """
    if steps is None:
        steps = (("mirror", mirror_step()), ("population", population_step()))
    started_at = _now()
    result = IngestionResult()
    for name, step in steps:
        started = time.monotonic()
        try:
            outcome = step(settings, store, progress)
        except PipelineError as error:
            log_error("ingestion_step_failed", error, step=name)
            result.steps.append(StepOutcome(name, False, error=str(error)))
            continue
        except Exception as error:  # a bug in one step must not cost the other its run
            log_error("ingestion_step_crashed", error, step=name)
            result.steps.append(StepOutcome(name, False, error=f"{type(error).__name__}: {error}"))
            continue
        summary = outcome.to_dict()
        ok = bool(outcome.ok)
        error = None if ok else _step_error(name, summary)
        log_event("ingestion_step_done", step=name, ok=ok, seconds=round(time.monotonic() - started, 3))
        result.steps.append(StepOutcome(name, ok, summary, error))
    if record:
        record_ingestion(store, result, started_at)
    return result


INGESTION_RECORD_KEY = "_state/ingestion.json"
_COUNTED = ("added", "updated", "deleted", "unchanged", "failed")


def record_ingestion(store: Store, result: IngestionResult, started_at: str) -> None:
    """Keep the last ingestion's outcome, so the dashboard can tell whether the daily run works.

    The mirror writes its own state only when something changed (a no-op run costs no
    write there); this small record is written on every run. Failing to write it is
    logged, never fatal: it is bookkeeping, not data.
    """
    summary = result.to_dict()
    mirror = summary["mirror"] or {}
    document = {
        "started_at": started_at,
        "finished_at": _now(),
        "ok": result.ok,
        "errors": summary["errors"],
        "mirror": {key: len(mirror.get(key) or []) for key in _COUNTED} if mirror else None,
        "population": {"changed": summary["population"].get("changed")} if summary["population"] else None,
    }
    try:
        store.put(INGESTION_RECORD_KEY, json.dumps(document, indent=2).encode() + b"\n",
                  content_type="application/json")
    except PipelineError as error:
        log_error("ingestion_record_failed", error, key=INGESTION_RECORD_KEY)


def last_ingestion(store: Store) -> dict[str, Any] | None:
    """The record of the last ingestion run, or None if there was none (or it is unreadable)."""
    try:
        document = json.loads(store.read(INGESTION_RECORD_KEY).body)
    except NotFound:
        return None
    except (PipelineError, ValueError) as error:
        log_error("ingestion_record_unreadable", error, key=INGESTION_RECORD_KEY)
        return None
    return document if isinstance(document, dict) else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _step_error(name: str, summary: dict[str, Any]) -> str:
    failed = summary.get("failed")
    if failed:
        names = [f.get("name", f) if isinstance(f, dict) else f for f in failed]
        return f"{name}: {len(names)} file(s) failed: {', '.join(map(str, names[:10]))}"
    reasons = summary.get("errors") or [summary.get("error") or "see the logs"]
    return f"{name}: did not complete: {'; '.join(map(str, reasons))}"


# --------------------------------------------------------------------------- analysis


@dataclass
class AnalysisResult:
    """What the analysis did with one message.

    `action`: `skipped` (no record of a report input: test event, other key),
    `waiting` (an input is not stored yet; its own write will trigger a run),
    `unchanged` (inputs as in the last run: nothing written) or `written`.
    """

    action: str
    records: list[events.S3Record] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    reports: dict[str, Any] | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (without the report contents)."""
        return {
            "action": self.action,
            "note": self.note,
            "keys": [r.key for r in self.records],
            "records": [r.to_dict() for r in self.records],
            "written": list(self.written),
            "missing": list(self.missing),
        }


def reports_step(*, include_annual: bool = False) -> Callable[[Settings, Store], Any]:
    """The reports as the analysis step (chalicelib.reports.run_reports; imports pandas)."""

    def run(settings: Settings, store: Store) -> Any:
        from chalicelib.reports import run_reports

        return run_reports(settings, store, include_annual=include_annual)

    return run


def analyze(
    body: str | bytes | dict[str, Any],
    settings: Settings,
    store: Store,
    *,
    reports: Callable[[Settings, Store], Any] | None = None,
) -> AnalysisResult:
    """Handle one queue message: compute and store the reports if it names a report input.

    Idempotent: the reports module writes nothing when the inputs equal those of
    its last run, so a duplicate delivery changes nothing. Concurrent runs converge:
    if an input changed while the reports were computed, they are computed again, so
    the last writer never leaves reports of older inputs behind. Raises EventError for a
    message that is not an S3 event and AnalysisFailed when the reports fail, so the
    message is retried and ends in the dead-letter queue instead of being lost.
    """
    bucket, prefix = store_location(store)
    filters = events.notification_filters(settings, prefix)
    records = events.parse_message(body, filters, bucket=bucket, store_prefix=prefix)
    if not records:
        note = "s3:TestEvent" if events.is_test_event(body) else "no report input in the message"
        log_event("analysis_skipped", reason=note)
        return AnalysisResult("skipped", note=note)
    keys = [r.key for r in records]
    missing = [key for key in events.report_inputs(settings) if not store.exists(key)]
    if missing:
        # Both inputs are written by the same ingestion; the later write sends its own event.
        log_event("analysis_waiting", keys=keys, missing=missing)
        return AnalysisResult("waiting", records, missing=missing)
    reports = reports or reports_step()
    written: list[str] = []
    for attempt in range(1, STABLE_INPUT_ATTEMPTS + 1):
        try:
            outcome = reports(settings, store)
        except PipelineError as error:
            log_error("analysis_failed", error, keys=keys)
            raise AnalysisFailed(f"reports failed for {', '.join(keys)}: {error}") from error
        summary = outcome.to_dict()
        if not outcome.ok:
            log_error("analysis_failed", summary.get("error", "reports reported failure"), keys=keys)
            raise AnalysisFailed(f"reports failed for {', '.join(keys)}: {summary.get('error', 'see the logs')}")
        written += [key for key in outcome.written if key not in written]
        changed = _inputs_changed_since(summary, store)
        if not changed:
            break
        # Another write landed while the reports were computed. If its own analysis finished
        # first, this run may just have overwritten newer reports: compute again.
        log_event("analysis_inputs_changed", keys=changed, attempt=attempt)
    else:
        raise AnalysisFailed(f"inputs kept changing during {STABLE_INPUT_ATTEMPTS} report runs: {', '.join(changed)}")
    action = "written" if written else "unchanged"
    log_event("analysis_done", action=action, keys=keys, written=written)
    return AnalysisResult(action, records, written=written, reports=summary)


def _inputs_changed_since(summary: dict[str, Any], store: Store) -> list[str]:
    """Input keys whose stored ETag differs from the one the reports were computed from."""
    changed = []
    for item in summary.get("inputs") or []:
        try:
            current = store.head(item["key"]).etag
        except NotFound:
            current = None
        if current != item.get("etag"):
            changed.append(item["key"])
    return changed


# --------------------------------------------------------------------------- Lambda entry points


def scheduled_ingestion(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The daily Lambda run: ingest, log, and raise if a step failed (so the error metric sees it)."""
    settings = Settings.from_env(env)
    store = open_store(settings.data_store)
    log_event("ingestion_start", store=store.url, sources=list(settings.bls_source_urls))
    result = ingest(settings, store)
    log_event("ingestion_end", **result.to_dict())
    if not result.ok:
        raise IngestionFailed("ingestion failed: " + "; ".join(result.to_dict()["errors"].values()))
    return result.to_dict()


def handle_analysis_message(body: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The SQS Lambda run for one message (raises so that SQS redelivers, then dead-letters)."""
    settings = Settings.from_env(env)
    store = open_store(settings.data_store)
    return analyze(body, settings, store).to_dict()


# --------------------------------------------------------------------------- local run


@contextlib.contextmanager
def offline_sources(settings: Settings) -> Iterator[Settings]:
    """Serve the bundled real snapshot locally; yield settings pointing at it."""
    from chalicelib.sourceserver import SourceServer

    if not SNAPSHOT_DIR.is_dir() or not SNAPSHOT_POPULATION.is_file():
        raise ConfigError(
            f"--offline needs the bundled snapshot ({SNAPSHOT_DIR}, {SNAPSHOT_POPULATION}); "
            "it is part of the repository checkout"
        )
    server = SourceServer()
    times = {p.name: SNAPSHOT_TIMES.get(p.name, _AUG_6_2026) for p in SNAPSHOT_DIR.iterdir()}
    server.publish_folder(SNAPSHOT_BLS_PATH, SNAPSHOT_DIR, times)
    server.publish(SNAPSHOT_POPULATION_PATH.split("?")[0], SNAPSHOT_POPULATION.read_bytes(),
                   SNAPSHOT_POPULATION_TIME, content_type="application/json")
    with server:
        yield replace(
            settings,
            bls_source_urls=(server.base_url + SNAPSHOT_BLS_PATH,),
            population_api_url=server.base_url + SNAPSHOT_POPULATION_PATH,
            bls_contact=settings.bls_contact or SNAPSHOT_CONTACT,
        )


@dataclass
class RunResult:
    """Everything `run` did, for the CLI (text and `--json`)."""

    mode: str
    store: str
    ingestion: IngestionResult
    messages: list[dict[str, Any]]
    offline: bool = False
    queue: str | None = None
    reports: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when ingestion and every message's analysis succeeded."""
        return self.ingestion.ok and all(m.get("action") != "failed" for m in self.messages)

    def to_dict(self) -> dict[str, Any]:
        """The `run --json` document."""
        return {
            "ok": self.ok,
            "mode": self.mode,
            "offline": self.offline,
            "store": self.store,
            "queue": self.queue,
            "ingestion": self.ingestion.to_dict(),
            "messages": self.messages,
            "reports": self.reports,
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
    notifying = NotifyingStore.around(store, settings, messages.append)
    ingestion = ingest(settings, notifying, steps=steps, progress=progress, record=analyze_messages)
    handled = [handle_message(handle, f"local-{number}", body)
               for number, body in enumerate(messages if analyze_messages else [], 1)]
    result = RunResult("local", store.url, ingestion, handled)
    if not analyze_messages:
        result.notes.append(f"{len(messages)} notification(s) not analyzed (dry run)")
    result.reports = stored_reports(store)
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
    result = RunResult("queue", store.url, ingestion, handled, queue=hand_off.queue_arn)
    if changed:
        result.notes.append(f"configured S3 notifications of {store.bucket} → {hand_off.queue_arn}")
    result.reports = stored_reports(store)
    return result


def stored_reports(store: Store) -> dict[str, Any] | None:
    """The report documents currently in the store (None if the reports were never computed)."""
    from chalicelib.reports import BEST_YEARS_JSON_KEY, POPULATION_STATS_KEY, REPORTS_PREFIX, SERIES_POPULATION_JSON_KEY

    found: dict[str, Any] = {}
    for key in (POPULATION_STATS_KEY, BEST_YEARS_JSON_KEY, SERIES_POPULATION_JSON_KEY):
        name = key.removeprefix(REPORTS_PREFIX).removesuffix(".json")
        try:
            found[name] = json.loads(store.read(key).body)
        except NotFound:
            continue
        except ValueError:
            found[name] = {"error": f"{key} is not valid JSON"}
    return found or None


# --------------------------------------------------------------------------- CLI


def command(args: Any, settings: Settings, progress: Progress) -> tuple[dict[str, Any], str, bool]:
    """`python -m chalicelib run`: (JSON result, text, ok)."""
    dry_run = bool(getattr(args, "dry_run", False))
    offline = bool(getattr(args, "offline", False))
    steps: list[tuple[str, Step]] = [(
        "mirror",
        mirror_step(dry_run=dry_run, verify=bool(getattr(args, "verify", False)),
                    allow_mass_delete=bool(getattr(args, "allow_mass_delete", False))),
    )]
    if not dry_run:
        steps.append(("population", population_step()))
    queue_name = os.environ.get("ANALYSIS_QUEUE_NAME", "").strip() or None
    if queue_name is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", queue_name):
        raise ConfigError(f"ANALYSIS_QUEUE_NAME: {queue_name!r} is not an SQS queue name "
                          "(1-80 letters, digits, '-' or '_')")
    if not offline:
        settings.require_contact()  # a configuration error (exit 2) before anything is written
    result = run(
        settings,
        offline=offline,
        queue_name=queue_name,
        include_annual=bool(getattr(args, "include_annual", False)),
        steps=steps,
        progress=progress,
        analyze_messages=not dry_run,
    )
    if progress:
        progress("")
    if dry_run:
        result.notes.append("dry run: population and reports skipped, nothing written")
    return result.to_dict(), render_text(result), result.ok


def render_text(result: RunResult) -> str:
    """Human-readable account of a run: sources, ingestion, notifications, analysis, reports."""
    lines: list[str] = []
    lines.extend(result.notes)
    if result.mode == "queue":
        lines.append(f"Store: {result.store} (S3 notifications → SQS {result.queue})")
    else:
        lines.append(f"Store: {result.store} (local event hand-off)")
    lines.append("Ingestion:")
    mirror = result.ingestion.step("mirror")
    if mirror:
        lines.append("  mirror: " + (_mirror_line(mirror.result) if mirror.result else "")
                     + (f" FAILED: {mirror.error}" if mirror.error else ""))
    population = result.ingestion.step("population")
    if population:
        lines.append("  population: " + (_population_line(population.result) if population.result else "")
                     + (f" FAILED: {population.error}" if population.error else ""))
    lines.append(f"Notifications: {len(result.messages)} message(s)"
                 + ("" if result.messages else " (no report input changed: the reports were not recomputed)"))
    for number, message in enumerate(result.messages, 1):
        keys = ", ".join(message.get("keys", [])) or message.get("note") or "-"
        action = message.get("action")
        detail = {
            "written": f"reports computed, {len(message.get('written', []))} file(s) written",
            "unchanged": "inputs unchanged since the last report run, nothing written",
            "waiting": f"waiting for {', '.join(message.get('missing', []))}",
            "skipped": ("test event S3 sends when a notification is configured (skipped)"
                        if message.get("note") == "s3:TestEvent" else "not a report input (skipped)"),
            "failed": f"FAILED: {message.get('error')}",
        }.get(action, str(action))
        lines.append(f"  {number}. {keys}: {detail}")
    lines.append("")
    lines.extend(report_lines(result.reports))
    return "\n".join(lines)


def _mirror_line(summary: dict[str, Any]) -> str:
    parts = [f"{len(summary.get(k) or [])} {k}" for k in ("added", "updated", "deleted", "unchanged", "failed")]
    return ", ".join(parts) + f"; {summary.get('bytes_uploaded', 0)} bytes uploaded"


def _population_line(summary: dict[str, Any]) -> str:
    years = summary.get("years") or []
    span = f"{years[0]}-{years[-1]}" if years else "?"
    state = "changed, stored" if summary.get("changed") else "unchanged, nothing written"
    return f"{state} ({summary.get('rows')} rows, years {span}, {summary.get('key')})"


def report_lines(reports: dict[str, Any] | None, max_rows: int = 10) -> list[str]:
    """The stored reports as short tables."""
    if not reports:
        return ["Reports: none stored yet."]
    lines = ["Reports:"]
    stats = reports.get("population_stats")
    if stats:
        lines.append(
            f"  Population {stats.get('start_year')}-{stats.get('end_year')}: mean {_num(stats.get('mean'))}, "
            f"std (sample) {_num(stats.get('std'))}, std (population) {_num(stats.get('std_population'))}"
        )
    best = reports.get("best_years")
    if best:
        series = best.get("series", [])
        lines.append(f"  Best year per series ({len(series)} series; first {min(max_rows, len(series))}):")
        lines.append(f"    {'series_id':<14}{'year':>6}{'value':>14}")
        for row in series[:max_rows]:
            lines.append(f"    {row.get('series_id', ''):<14}{row.get('year', ''):>6}{_num(row.get('value')):>14}")
    joined = reports.get("series_population")
    if joined:
        rows = joined.get("rows", [])
        lines.append(f"  {joined.get('series_id')} {joined.get('period')} x population ({len(rows)} years):")
        lines.append(f"    {'year':>6}{'value':>12}{'population':>14}")
        for row in rows:
            population = row.get("population")
            lines.append(f"    {row.get('year', ''):>6}{_num(row.get('value')):>12}"
                         f"{(str(population) if population is not None else '-'):>14}")
    return lines


def _num(value: Any) -> str:
    if isinstance(value, float):
        if abs(value) >= 100_000:  # populations and their statistics
            return f"{value:,.3f}".rstrip("0").rstrip(".")
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)
