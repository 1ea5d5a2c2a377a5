"""Analysis: one queue message naming a report input → the reports, computed and stored.

Idempotent and convergent under concurrent runs (see `analyze`). pandas is imported
only inside the reports step, so the ingestion path never loads it. See docs/pipeline.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.core.errors import NotFound, PipelineError, PreconditionFailed
from chalicelib.core.layout import REPORT_KEYS, SUMMARY_KEY
from chalicelib.core.log import log_error, log_event
from chalicelib.core.s3_events import S3Record, is_test_event, store_location
from chalicelib.core.settings import Settings
from chalicelib.core.store import Store
from chalicelib.pipeline import events
from chalicelib.reports.inputs import ReportInput
from chalicelib.reports.run import run_reports

STABLE_INPUT_ATTEMPTS = 3  # report runs per message while the inputs change underneath


class ReportsOutcome(Protocol):
    """What the reports step returns (chalicelib.reports.run.ReportsResult)."""

    ok: bool
    written: list[str]

    @property
    def inputs(self) -> Sequence[ReportInput]: ...  # each input the reports were computed from


class AnalysisFailed(PipelineError):
    """The reports could not be computed from the inputs."""


@dataclass
class AnalysisResult:
    """What the analysis did with one message.

    `action`: `skipped` (no record of a report input: test event, other key),
    `waiting` (an input is not stored yet; its own write will trigger a run),
    `unchanged` (inputs as in the last run: nothing written) or `written`.
    """

    action: str
    records: list[S3Record] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    reports: ReportsOutcome | None = None
    note: str = ""

    @property
    def keys(self) -> list[str]:
        """The report inputs the message named."""
        return [r.key for r in self.records]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (without the report contents)."""
        return {
            "action": self.action,
            "note": self.note,
            "keys": self.keys,
            "records": [r.to_dict() for r in self.records],
            "written": list(self.written),
            "missing": list(self.missing),
        }


def reports_step(*, include_annual: bool = False) -> Callable[[Settings, Store], ReportsOutcome]:
    """The reports as the analysis step (chalicelib.reports.run.run_reports; imports pandas)."""

    def run(settings: Settings, store: Store) -> ReportsOutcome:
        return run_reports(settings, store, include_annual=include_annual)

    return run


def analyze(
    body: str | bytes | dict[str, Any],
    settings: Settings,
    store: Store,
    *,
    reports: Callable[[Settings, Store], ReportsOutcome] | None = None,
) -> AnalysisResult:
    """Handle one queue message: compute and store the reports if it names a report input.

    Idempotent: the reports module writes nothing when the inputs equal those of
    its last run, so a duplicate delivery changes nothing. Concurrent runs converge:
    if an input changed while the reports were computed, they are computed again, so
    the last writer never leaves reports of older inputs behind. Raises EventError for a
    message that is not an S3 event and AnalysisFailed when the reports fail, so the
    message is retried and ends in the dead-letter queue instead of being lost. The reports
    step writes the summary only over the version it read first, and every report carries the
    input versions it was computed from: a run that lost that race computes again, so reports
    never disagree with `summary.json` whatever the interleaving (see docs/reports.md).
    """
    bucket, prefix = store_location(store)
    filters = events.notification_filters(settings, prefix)
    records = events.parse_message(body, filters, bucket=bucket, store_prefix=prefix)
    if not records:
        note = "s3:TestEvent" if is_test_event(body) else "no report input in the message"
        log_event("analysis_skipped", reason=note)
        return AnalysisResult("skipped", note=note)
    keys = [r.key for r in records]
    missing = [key for key in events.report_inputs(settings) if not store.exists(key)]
    if missing:
        # Both inputs are written by the same ingestion; the later write sends its own event.
        log_event("analysis_waiting", keys=keys, missing=missing)
        return AnalysisResult("waiting", records, missing=missing)
    written, outcome = _run_until_inputs_stable(reports or reports_step(), settings, store, keys)
    action = "written" if written else "unchanged"
    log_event("analysis_done", action=action, keys=keys, written=written)
    return AnalysisResult(action, records, written=written, reports=outcome)


def missing_reports(store: Store) -> list[str]:
    """The report files (and summary) that are not in the store."""
    return [key for key in (*REPORT_KEYS, SUMMARY_KEY) if not store.exists(key)]


def catch_up(
    settings: Settings,
    store: Store,
    *,
    reports: Callable[[Settings, Store], ReportsOutcome] | None = None,
) -> AnalysisResult | None:
    """Rebuild the reports when one is missing from the store though both inputs are there (deleted by
    hand, say: no input was written, so no event comes for them). None when none is missing, or an input
    is (then the input's own write triggers the analysis). Raises AnalysisFailed like `analyze`."""
    missing = missing_reports(store)
    inputs = list(events.report_inputs(settings))
    if not missing or not all(store.exists(key) for key in inputs):
        return None
    log_event("analysis_catch_up", missing=missing)
    written, outcome = _run_until_inputs_stable(reports or reports_step(), settings, store, inputs)
    return AnalysisResult("written" if written else "unchanged", written=written, reports=outcome,
                          note=f"missing from the store ({', '.join(missing)}): rebuilt")


def _run_until_inputs_stable(
    reports: Callable[[Settings, Store], ReportsOutcome], settings: Settings, store: Store, keys: list[str]
) -> tuple[list[str], ReportsOutcome]:
    """Run the reports until no input changed while they ran: (keys written by any run, last result)."""
    written: list[str] = []
    for attempt in range(1, STABLE_INPUT_ATTEMPTS + 1):
        try:
            outcome = _run_reports_once(reports, settings, store, keys)
        except PreconditionFailed:  # another analysis wrote the summary meanwhile: compute again
            changed = [SUMMARY_KEY]
            log_event("analysis_summary_conflict", keys=keys, attempt=attempt)
            continue
        written += [key for key in outcome.written if key not in written]
        changed = _inputs_changed_since(outcome.inputs, store)
        if not changed:
            return written, outcome
        # Another write landed while the reports were computed. If its own analysis finished
        # first, this run may just have overwritten newer reports: compute again.
        log_event("analysis_inputs_changed", keys=changed, attempt=attempt)
    raise AnalysisFailed(f"inputs kept changing during {STABLE_INPUT_ATTEMPTS} report runs: {', '.join(changed)}")


def _run_reports_once(
    reports: Callable[[Settings, Store], ReportsOutcome], settings: Settings, store: Store, keys: list[str]
) -> ReportsOutcome:
    """The result of one reports run; AnalysisFailed if it failed."""
    try:
        outcome = reports(settings, store)
    except PreconditionFailed:
        raise  # the summary was written by another run: the caller computes again
    except PipelineError as error:
        log_error("analysis_failed", error, keys=keys)
        raise AnalysisFailed(f"reports failed for {', '.join(keys)}: {error}") from error
    if not outcome.ok:
        log_error("analysis_failed", "reports reported failure", keys=keys)
        raise AnalysisFailed(f"reports failed for {', '.join(keys)}: see the logs")
    return outcome


def _inputs_changed_since(inputs: Sequence[ReportInput], store: Store) -> list[str]:
    """Input keys whose stored ETag differs from the one the reports were computed from."""
    changed = []
    for item in inputs:
        try:
            current = store.head(item.key).etag
        except NotFound:
            current = None
        if current != item.etag:
            changed.append(item.key)
    return changed
