"""What a mirror run did: one `SurveyResult` per survey, gathered in a `MirrorResult`.

Dataclasses until JSON leaves the process: `to_dict()` is the `mirror --json` document (and
the ingestion step's result); the continuation record reads the typed result
(`chalicelib.pipeline.continuation.finish_invocation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SurveyResult:
    """What one run did (or, with --dry-run, would do) to one survey."""

    survey: str
    source_url: str
    prefix: str
    dry_run: bool = False
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # left for the next run (time budget)
    abandoned: list[str] = field(default_factory=list)  # of `pending`: started, then abandoned at the run's end
    skipped: list[str] = field(default_factory=list)  # sub-directories, never mirrored
    reached: bool = True  # False: the run's budget was used up before this survey's turn
    not_modified: int = 0
    bytes_downloaded: int = 0
    bytes_uploaded: int = 0
    source_requests: int = 0
    errors: list[str] = field(default_factory=list)
    plan: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file is in sync and nothing went wrong."""
        return not self.failed and not self.errors

    @property
    def complete(self) -> bool:
        """True when nothing is left for a later run (a failed file is not pending: see `ok`)."""
        return self.reached and not self.pending

    @property
    def pending_count(self) -> int | None:
        """Files left for a later run; None for a survey the run did not reach (not known yet)."""
        return len(self.pending) if self.reached else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one survey; `pending` is None for a survey the run did not reach."""
        result: dict[str, Any] = {
            "survey": self.survey,
            "source_url": self.source_url,
            "prefix": self.prefix,
            "ok": self.ok,
            "complete": self.complete,
            "pending": self.pending_count,
            "pending_files": self.pending,
            "abandoned": self.abandoned,
            "skipped": self.skipped,
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "repaired": self.repaired,
            "not_modified": self.not_modified,
            "bytes_downloaded": self.bytes_downloaded,
            "bytes_uploaded": self.bytes_uploaded,
            "source_requests": self.source_requests,
            "errors": self.errors,
        }
        if self.dry_run:
            result["plan"] = self.plan
        return result


@dataclass
class MirrorResult:
    """All surveys of one run; `to_dict()` is the `mirror --json` document."""

    surveys: list[SurveyResult]
    dry_run: bool = False
    verify: bool = False
    seconds: float = 0.0
    skipped: tuple[str, ...] = ()  # directories of the root that are not surveys

    @property
    def ok(self) -> bool:
        """True when nothing failed (a run stopped by its time budget is ok, and not complete)."""
        return all(report.ok for report in self.surveys)

    @property
    def complete(self) -> bool:
        """True when every survey is done: nothing left for a continuation."""
        return all(report.complete for report in self.surveys)

    def all_skipped(self) -> list[str]:
        """The root's non-survey directories, then each survey's sub-directories (`la/maps/`)."""
        return [*self.skipped, *(f"{r.survey}/{name}" for r in self.surveys for name in r.skipped)]

    def counts(self) -> dict[str, int]:
        """Files per kind of change, over all surveys (the ingestion record and the run's text)."""
        return {name: sum(len(getattr(survey, name)) for survey in self.surveys)
                for name in ("added", "updated", "deleted", "unchanged", "failed")}

    def pending_files(self) -> int:
        """Files left in the surveys the run reached."""
        return sum(len(report.pending) for report in self.surveys)

    def not_reached(self) -> list[str]:
        """The surveys the run did not reach (their pending files are not known until their listing is read)."""
        return [report.survey for report in self.surveys if not report.reached]

    def pending_by_survey(self) -> dict[str, int | None]:
        """Pending files per survey that is not complete (None: not reached yet)."""
        return {report.survey: report.pending_count for report in self.surveys if not report.complete}

    def failure(self) -> str:
        """Why the run is not ok: the files that failed, or the errors that stopped a survey."""
        failed = [name for survey in self.surveys for name in survey.failed]
        if failed:
            return f"{len(failed)} file(s) failed: {', '.join(failed[:10])}"
        errors = [f"{survey.survey}: {error}" for survey in self.surveys for error in survey.errors]
        return f"did not complete: {'; '.join(errors) or 'see the logs'}"

    def to_dict(self) -> dict[str, Any]:
        """Aggregated lists and counters, plus a per-survey breakdown under `surveys`.

        `pending` counts the files left in the surveys the run reached; `not_reached` names
        the surveys it did not reach (their pending files are not known until their listing is read).
        """
        result: dict[str, Any] = {
            "ok": self.ok, "complete": self.complete, "dry_run": self.dry_run, "verify": self.verify,
            "pending": self.pending_files(),
            "not_reached": self.not_reached(),
            "skipped": self.all_skipped(),
        }
        for name in ("added", "updated", "deleted", "unchanged", "failed", "repaired"):
            result[name] = [item for report in self.surveys for item in getattr(report, name)]
        for name in ("bytes_downloaded", "bytes_uploaded", "source_requests", "not_modified"):
            result[name] = sum(getattr(report, name) for report in self.surveys)
        result["errors"] = [f"{report.survey}: {error}" for report in self.surveys for error in report.errors]
        result["seconds"] = round(self.seconds, 3)
        result["surveys"] = [report.to_dict() for report in self.surveys]
        return result



__all__ = ["MirrorResult", "SurveyResult"]
