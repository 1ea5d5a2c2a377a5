"""What the store holds, for /api/status and the dashboard: typed here, JSON only in `StoreStatus.to_dict`.

Read once per request from the mirror's saved states, the ingestion record, the
population object and the report files (keys: chalicelib.core.layout).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib.core.errors import NotFound, PipelineError
from chalicelib.core.layout import POPULATION_KEY, REPORTS_PREFIX, SUMMARY_KEY
from chalicelib.core.store import ObjectInfo, Store
from chalicelib.lake.revisions import latest_summaries
from chalicelib.mirror.status import SurveyStatus, mirror_status
from chalicelib.pipeline.continuation import MirrorRun, read_run
from chalicelib.pipeline.ingestion import IngestionRecord, last_ingestion

RELEASES_SHOWN = 5  # release summaries (bls_revisions) in the status
RUN_HINT = "Run the pipeline to create it: `make run` (or `bls-pipeline run`)."
REPORT_FILE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}\.(json|csv)$")


@dataclass(frozen=True)
class ReportFile(ObjectInfo):
    """A downloadable report file (top level of `reports/`, JSON or CSV)."""

    @property
    def name(self) -> str:
        """The file name under `reports/`."""
        return self.key.removeprefix(REPORTS_PREFIX)

    @property
    def path(self) -> str:
        """Where the web API serves it."""
        return f"/{REPORTS_PREFIX}{self.name}"


@dataclass(frozen=True)
class StoreStatus:
    """Mirrored surveys, the last ingestion, the population object and the report files."""

    surveys: list[SurveyStatus]
    ingestion: IngestionRecord | None
    population: ObjectInfo | None
    generated_at: str | None  # of the reports (summary.json)
    files: list[ReportFile]
    mirror_run: MirrorRun | None = None  # the current (or last) mirror run: pending work, invocations
    mirror_run_error: str | None = None  # the run record could not be read (damaged): why
    releases: list[dict[str, Any]] = field(default_factory=list)  # issue 21: newest release summaries

    @property
    def mirror_problems(self) -> list[str]:
        """What is wrong with the mirror run: a damaged record, surveys given up, a run stopped at a bound."""
        problems = [self.mirror_run_error] if self.mirror_run_error else []
        run = self.mirror_run
        if run is not None:
            if run.problems:
                problems.append(f"the run record is damaged ({'; '.join(run.problems)}); the next run replaces it")
            problems.extend(f"{survey}: {reason}" for survey, reason in sorted(run.failed_surveys.items()))
            if run.stopped:
                problems.append(run.stopped)
        return problems

    @property
    def ready(self) -> bool:
        """True when every part of the pipeline has written something."""
        return bool(self.surveys) and self.population is not None and bool(self.files)

    @property
    def hint(self) -> str:
        """What to do when the store is not ready (empty when it is)."""
        return "" if self.ready else "The store is empty or incomplete. " + RUN_HINT

    def to_dict(self) -> dict[str, Any]:
        """The /api/status document."""
        document: dict[str, Any] = {
            "surveys": [survey.to_dict() for survey in self.surveys],
            "mirror_run": self.mirror_run and self.mirror_run.summary(),
            "mirror_problems": self.mirror_problems,
            "ingestion": self.ingestion and self.ingestion.to_dict(),
            "population": self.population and asdict(self.population),
            "reports": {"generated_at": self.generated_at,
                        "files": [{"name": f.name, **asdict(f), "path": f.path} for f in self.files]},
            "ready": self.ready,
            "releases": self.releases,
        }
        if not self.ready:
            document["hint"] = self.hint
        return document


def report_files(store: Store) -> list[ReportFile]:
    """The downloadable report files (top level of `reports/`, JSON and CSV)."""
    return [ReportFile(info.key, info.size, info.etag) for info in store.list(REPORTS_PREFIX)
            if REPORT_FILE_PATTERN.match(info.key.removeprefix(REPORTS_PREFIX))]


def store_status(store: Store, files_of: str = "all") -> StoreStatus:
    """Mirror summary per survey (file lists for `files_of`: "all", "none" or comma-separated
    surveys), the mirror run, ingestion record, population file and report files."""
    surveys = mirror_status(store, files_of if files_of == "all" else [s for s in files_of.split(",") if s])
    try:
        head = store.head(POPULATION_KEY)
        population: ObjectInfo | None = ObjectInfo(POPULATION_KEY, head.size, head.etag)
    except NotFound:
        population = None
    files = report_files(store)
    generated_at = None
    if any(f.key == SUMMARY_KEY for f in files):
        try:
            generated_at = json.loads(store.read(SUMMARY_KEY).body)["generated_at"]
        except (PipelineError, ValueError, KeyError, TypeError):
            generated_at = None
    try:
        releases = latest_summaries(store, RELEASES_SHOWN)
    except PipelineError:
        releases = []
    try:
        run, run_error = read_run(store)[0], None
    except PipelineError as error:  # a damaged record is shown, not a 500
        run, run_error = None, f"the mirror run record cannot be read: {error}"
    return StoreStatus(surveys, last_ingestion(store), population, generated_at, files, run, run_error, releases)
