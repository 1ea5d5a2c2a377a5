"""Lambda entry points called by `app.py`: settings from the environment, one store, one run.

The daily run mirrors (within the invocation's time) and fetches the population; a mirror
left incomplete goes on in `continue_ingestion`, one invocation per continuation message,
until complete (`chalicelib.pipeline.continuation`). The population runs once a day.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.core.errors import PipelineError
from chalicelib.core.log import log_error, log_event
from chalicelib.core.settings import Settings
from chalicelib.core.store import Store, open_store
from chalicelib.gold import sync as gold
from chalicelib.lake.catalog import catalog_for
from chalicelib.lake.messages import handle_lake_message as handle_lake
from chalicelib.mirror.budget import Deadlines
from chalicelib.mirror.results import MirrorResult
from chalicelib.pipeline import (
    continuation,
    metrics,  # issue 22: EMF lines in Lambda only
)
from chalicelib.pipeline.analysis import analyze
from chalicelib.pipeline.ingestion import (
    IngestionFailed,
    IngestionResult,
    deep_check_is_due,
    ingest,
    mirror_step,
    population_step,
)


def scheduled_ingestion(env: dict[str, str] | None = None, context: Any = None, *,
                        deadlines: Deadlines | None = None) -> dict[str, Any]:
    """The daily Lambda run: mirror (unless a continuation holds the lease) and population; raise if
    a step failed (so the error metric sees it). An incomplete mirror sends a continuation message.
    `deadlines` replace those of the invocation's remaining time (tests, the bench)."""
    settings = Settings.from_env(env)
    store = open_store(settings.data_store)
    log_event("ingestion_start", store=store.url, sources=list(settings.bls_source_urls))
    lease_error = None
    try:
        started = continuation.start_run(store, time.time())
    except continuation.RunRecordDamaged as damaged:  # replaced; the invocation fails afterwards (alarm)
        started, lease_error = damaged.replaced, f"mirror: {damaged}"
    except PipelineError as error:  # the population still runs; the invocation fails afterwards
        log_error("mirror_lease_failed", error)
        started, lease_error = None, f"mirror: the run record could not be read or written ({error})"
    steps = [("population", population_step())]
    deep_check = started is not None and deep_check_is_due(store, settings)
    if started is not None:
        steps.insert(0, ("mirror", mirror_step(verify=deep_check, deadlines=deadlines or lambda_deadlines(
            settings, context))))
    elif lease_error is None:
        log_event("ingestion_mirror_skipped", reason="a mirror run holds the lease (a continuation is due)")
    result = ingest(settings, store, steps=steps, deep_check=deep_check)
    metrics.record_ingestion(result.to_dict())
    run_errors: tuple[str, ...] = ()
    if started is not None:
        run_errors = _end_invocation(store, *started, result, settings.continuation_queue_url, redelivered=False)
    log_event("ingestion_end", **result.to_dict())
    step_errors = list(result.errors().values())
    errors = [*step_errors, *(e for e in run_errors if e not in step_errors), *([lease_error] if lease_error else [])]
    if errors:
        raise IngestionFailed("ingestion failed: " + "; ".join(errors))
    return result.to_dict()


def continue_ingestion(body: str, env: dict[str, str] | None = None, context: Any = None,
                       sleep: Callable[[float], None] = time.sleep, *,
                       deadlines: Deadlines | None = None) -> dict[str, Any]:
    """One continuation message: go on with the mirror run it names (a stale or duplicate one is dropped).

    Raises when the invocation failed (SQS then delivers the same message again, and the run goes
    on from where it is) or when the run hit one of its bounds (the ingestion alarm)."""
    settings = Settings.from_env(env)
    store = open_store(settings.data_store)
    run_id, number = continuation.parse_message(body)
    damage = None
    try:
        resumed = continuation.resume_run(store, run_id, time.time(), number) if run_id else None
    except continuation.RunRecordDamaged as damaged:
        resumed, damage = damaged.replaced, f"mirror: {damaged}"
        if resumed is None:
            raise IngestionFailed(f"mirror continuation dropped: {damaged}") from None
    if resumed is None:
        return {"dropped": True, "run_id": run_id}
    run, etag = resumed
    waited = continuation.wait_for_rate(run, settings.http_requests_per_second, sleep=sleep)
    log_event("ingestion_continue", run_id=run.run_id, invocation=run.invocations + 1, waited=round(waited, 3))
    step = mirror_step(deadlines=deadlines or lambda_deadlines(settings, context), give_up=run.failed_surveys)
    result = ingest(settings, store, steps=[("mirror", step)], record=False)  # the daily record keeps its population
    metrics.record_ingestion(result.to_dict(), continuation=True)
    run_errors = _end_invocation(store, run, etag, result, settings.continuation_queue_url, redelivered=True)
    errors = [*run_errors, *([damage] if damage else [])]
    if errors:
        raise IngestionFailed("mirror continuation failed: " + "; ".join(errors))
    return result.to_dict()


def lambda_deadlines(settings: Settings, context: Any) -> Deadlines:
    """From the invocation's remaining time; MIRROR_TIME_BUDGET, if set and shorter, wins."""
    budget = Deadlines.from_budget(settings.mirror_time_budget, settings.mirror_file_deadline)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return budget
    own = Deadlines.from_lambda(remaining(), settings.mirror_file_deadline)
    if budget.start_until is not None and own.start_until is not None and budget.start_until < own.start_until:
        return Deadlines(budget.start_until, own.abandon_at, own.per_file)
    return own


def _end_invocation(store: Store, run: continuation.MirrorRun, etag: str, result: IngestionResult,
                    queue_url: str | None, *, redelivered: bool) -> tuple[str, ...]:
    """Record the invocation; send the next continuation (to `queue_url`) when one is due; the run's
    errors, for the handler to raise (`continuation.conclude`)."""
    step = result.step("mirror")
    mirrored = step.result if step is not None and isinstance(step.result, MirrorResult) else None  # None: a crash
    outcome = continuation.conclude(store, run, etag, mirrored, time.time(), redelivered=redelivered)
    metrics.record_run(outcome.run.summary(), failed=bool(outcome.errors))
    if outcome.send:
        try:
            continuation.send_continuation(outcome.run, queue_url)
        except Exception as error:  # the lease expires, and the next daily run starts afresh
            log_error("mirror_continuation_failed", error, run_id=outcome.run.run_id)
            raise
    failed_step = step.error if step is not None and step.error else None  # the step's own words, when it has them
    return tuple(failed_step if error == continuation.MIRROR_STEP_FAILED and failed_step else error
                 for error in outcome.errors)


def handle_analysis_message(body: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The SQS Lambda run for one message (raises so that SQS redelivers, then dead-letters)."""
    settings = Settings.from_env(env)
    store = open_store(settings.data_store)
    outcome = analyze(body, settings, store).to_dict()
    metrics.record_analysis(outcome)
    return outcome


def handle_lake_message(body: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The SQS Lambda run of the silver layer for one message (raises so that SQS redelivers); partitions
    are registered in the Glue database LAKE_GLUE_DATABASE names (`chalicelib.lake.catalog.catalog_for`).

    Then the gold step: the gold tables of each survey the message names (a data, series or mapping
    file created or removed) are brought in step with the silver layer just written (`chalicelib.gold.sync`:
    nothing is written when their inputs did not change). A gold failure fails the message too: it is
    retried (the silver partition is then unchanged, only gold is built again), then dead-lettered."""
    settings = Settings.from_env(env)
    store = open_store(settings.data_store)
    catalog = catalog_for(settings, store)
    try:
        outcome = handle_lake(body, store, catalog=catalog).to_dict()
        outcome["gold"] = [gold.sync_survey(store, survey, catalog=catalog).to_dict()
                           for survey in gold.surveys_in_message(body, store)]
    except Exception:
        metrics.record_lake(None, failed=True)
        raise
    metrics.record_lake(outcome)
    return outcome
