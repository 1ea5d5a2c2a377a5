"""Ingestion: the mirror, then the population; a failing step never stops the next.

`ingest` returns an `IngestionResult` and never raises for a step's failure (the
Lambda handler raises, the CLI exits 1); every run is recorded at
`INGESTION_RECORD_KEY` for the dashboard. The record also keeps when the mirror last
completed a deep check (every file's content downloaded and compared): the default
ingestion makes its mirror a deep check when that is `DEEP_CHECK_DAYS` old or more.
See docs/pipeline.md and docs/mirror.md (the deep check).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.core.errors import NotFound, PipelineError
from chalicelib.core.layout import INGESTION_RECORD_KEY
from chalicelib.core.log import log_error, log_event
from chalicelib.core.settings import Settings
from chalicelib.core.store import Store
from chalicelib.mirror.results import MirrorResult
from chalicelib.mirror.sync import run_mirror
from chalicelib.population.update import run_population

Progress = Callable[[str], None] | None


class StepResult(Protocol):
    """What an ingestion step returns (MirrorResult, PopulationResult)."""

    @property
    def ok(self) -> bool:
        """True when the step did all it had to."""

    def failure(self) -> str:
        """Why a result that is not ok failed, in a few words."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (CLI --json)."""


# A step of the ingestion: (settings, store, progress) -> its result.
Step = Callable[[Settings, Store, Progress], StepResult]


class IngestionFailed(PipelineError):
    """At least one ingestion step failed (the others still ran)."""


@dataclass
class StepOutcome:
    """What one ingestion step did: its result, or the error that stopped it."""

    name: str
    ok: bool
    result: StepResult | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"step": self.name, "ok": self.ok, "result": self.result and self.result.to_dict(),
                "error": self.error}


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
            out[step.name] = step.result and step.result.to_dict()
        out["errors"] = self.errors()
        return out

    def errors(self) -> dict[str, str]:
        """`{step: message}` of the steps that failed."""
        return {s.name: s.error for s in self.steps if s.error}


@dataclass(frozen=True)
class IngestionRecord:
    """The stored record of the last ingestion (INGESTION_RECORD_KEY), as the dashboard reads it."""

    started_at: str
    finished_at: str
    ok: bool
    errors: dict[str, str]
    mirror: dict[str, int] | None  # files per kind of change (added, updated, deleted, unchanged, failed)
    population: dict[str, bool] | None  # {"changed": ...}
    last_deep_check: str | None = None  # start of the last ingestion whose mirror completed a deep check

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON document (and /api/status's `ingestion`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> IngestionRecord:
        """Read the stored document back (KeyError/TypeError/ValueError if it has another shape)."""
        return cls(str(document["started_at"]), str(document["finished_at"]), bool(document["ok"]),
                   {str(k): str(v) for k, v in document["errors"].items()},
                   document["mirror"] and {str(k): int(v) for k, v in document["mirror"].items()},
                   document["population"] and {"changed": bool(document["population"]["changed"])},
                   document.get("last_deep_check"))


def mirror_step(*, dry_run: bool = False, verify: bool = False, allow_mass_delete: bool = False,
                deadlines: Any = None, give_up: Mapping[str, str] | None = None) -> Step:
    """The mirror as an ingestion step (chalicelib.mirror.sync.run_mirror); `deadlines` default to
    the settings' time budget. A run stopped by its budget is ok (and `complete: false`). `give_up`:
    surveys failed for the rest of a continued run (survey -> why), not visited."""

    def run(settings: Settings, store: Store, progress: Progress) -> StepResult:
        return run_mirror(
            settings, store, dry_run=dry_run, verify=verify, allow_mass_delete=allow_mass_delete, progress=progress,
            deadlines=deadlines, give_up=give_up,
        )

    return run


def population_step() -> Step:
    """The population fetch as an ingestion step (chalicelib.population.update.run_population)."""

    def run(settings: Settings, store: Store, progress: Progress) -> StepResult:
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
    deep_check: bool | None = None,
) -> IngestionResult:
    """Run the mirror, then the population; a failing step does not stop the next one.

    Never raises for a step's failure: the outcome says which step failed and why
    (callers decide: the Lambda handler raises, the CLI exits 1). With `record`, the
    outcome is kept at INGESTION_RECORD_KEY (see `record_ingestion`). `deep_check`: whether
    the given mirror step re-verifies every file (None: decided here, for the default steps,
    from DEEP_CHECK_DAYS); a complete, successful one is recorded as the last deep check.
    """
    started_at = _now()
    previous = last_ingestion(store) if record or steps is None else None
    last_deep_check = previous.last_deep_check if previous else None
    if deep_check is None:
        deep_check = steps is None and deep_check_due(last_deep_check, settings.deep_check_days, started_at)
    if steps is None:
        steps = (("mirror", mirror_step(verify=deep_check)), ("population", population_step()))
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
        failure = None if outcome.ok else f"{name}: {outcome.failure()}"
        log_event("ingestion_step_done", step=name, ok=outcome.ok, seconds=round(time.monotonic() - started, 3))
        result.steps.append(StepOutcome(name, outcome.ok, outcome, failure))
    mirrored = result.step("mirror")
    if deep_check and mirrored is not None and mirrored.ok and getattr(mirrored.result, "complete", True):
        last_deep_check = started_at
        log_event("deep_check_done", at=started_at)
    if record:
        record_ingestion(store, result, started_at, last_deep_check)
    return result


def deep_check_is_due(store: Store, settings: Settings) -> bool:
    """True when the recorded last deep check is DEEP_CHECK_DAYS old (or there is none)."""
    previous = last_ingestion(store)
    return deep_check_due(previous.last_deep_check if previous else None, settings.deep_check_days, _now())


def deep_check_due(last: str | None, days: int, now: str) -> bool:
    """True when the last complete deep check (ISO UTC time) is `days` old (an hour's slack for
    the schedule's drift) or unknown."""
    try:
        when = datetime.fromisoformat(str(last).replace("Z", "+00:00"))
        elapsed = datetime.fromisoformat(now.replace("Z", "+00:00")) - when
    except ValueError:
        return True
    return elapsed >= timedelta(days=days) - timedelta(hours=1)




def record_ingestion(store: Store, result: IngestionResult, started_at: str,
                     last_deep_check: str | None = None) -> None:
    """Keep the last ingestion's outcome, so the dashboard can tell whether the daily run works.

    The mirror writes its own state only when something changed (a no-op run costs no
    write there); this small record is written on every run. Failing to write it is
    logged, never fatal: it is bookkeeping, not data.
    """
    mirror, population = result.step("mirror"), result.step("population")
    document = IngestionRecord(
        started_at=started_at,
        finished_at=_now(),
        ok=result.ok,
        errors=result.errors(),
        mirror=_mirror_counts(mirror.result) if mirror and isinstance(mirror.result, MirrorResult) else None,
        population={"changed": getattr(population.result, "changed", False)} if population and population.result
        else None,
        last_deep_check=last_deep_check,
    ).to_dict()
    try:
        store.put(INGESTION_RECORD_KEY, json.dumps(document, indent=2).encode() + b"\n",
                  content_type="application/json")
    except PipelineError as error:
        log_error("ingestion_record_failed", error, key=INGESTION_RECORD_KEY)


def _mirror_counts(result: MirrorResult) -> dict[str, int]:
    """Files per kind of change, and what a run stopped by its time budget left for the next one."""
    return result.counts() | {"pending": result.pending_files(), "not_reached": len(result.not_reached())}


def last_ingestion(store: Store) -> IngestionRecord | None:
    """The record of the last ingestion run, or None if there was none (or it is unreadable)."""
    try:
        return IngestionRecord.from_dict(json.loads(store.read(INGESTION_RECORD_KEY).body))
    except NotFound:
        return None
    except (PipelineError, ValueError, KeyError, TypeError, AttributeError) as error:
        log_error("ingestion_record_unreadable", error, key=INGESTION_RECORD_KEY)
        return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
