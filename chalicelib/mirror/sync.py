"""The BLS mirror: keep `bls/<survey>/` in the store exactly in sync with BLS directories.

`run_mirror` runs each survey: listing + inventory, then (unless the in-sync marker
matches) plan, download, upload only changed content, delete, save state, leave a marker.
A run where nothing changed writes nothing. See docs/mirror.md ("How a run works").
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlsplit

import requests

from chalicelib.core.errors import ConfigError, PipelineError, PreconditionFailed, SourceError, StoreError
from chalicelib.core.http_client import PoliteClient, Validators
from chalicelib.mirror.listing import Listing, parse_listing
from chalicelib.core.log import log_error, log_event
from chalicelib.core.layout import BOOKKEEPING_SUFFIX, marker_key, survey_prefix
from chalicelib.mirror.state import (
    FileRecord,
    StoredSurvey,
    SurveyState,
    list_states,
    load_state,
    read_stored_survey,
    save_state,
    sync_fingerprint,
)
from chalicelib.mirror.plan import DRIFT, NEW, Fetch, Plan, make_plan
from chalicelib.core.settings import Settings
from chalicelib.core.store import ObjectInfo, Store, validate_key

Progress = Callable[[str], None] | None
_CHUNK = 1024 * 1024
_STATE_ATTEMPTS = 3


# --------------------------------------------------------------------------- results


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

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one survey."""
        result: dict[str, Any] = {
            "survey": self.survey,
            "source_url": self.source_url,
            "prefix": self.prefix,
            "ok": self.ok,
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

    @property
    def ok(self) -> bool:
        """True when every survey synced completely."""
        return all(report.ok for report in self.surveys)

    def counts(self) -> dict[str, int]:
        """Files per kind of change, over all surveys (the ingestion record and the run's text)."""
        return {name: sum(len(getattr(survey, name)) for survey in self.surveys)
                for name in ("added", "updated", "deleted", "unchanged", "failed")}

    def failure(self) -> str:
        """Why the run is not ok: the files that failed, or the errors that stopped a survey."""
        failed = [name for survey in self.surveys for name in survey.failed]
        if failed:
            return f"{len(failed)} file(s) failed: {', '.join(failed[:10])}"
        errors = [f"{survey.survey}: {error}" for survey in self.surveys for error in survey.errors]
        return f"did not complete: {'; '.join(errors) or 'see the logs'}"

    def to_dict(self) -> dict[str, Any]:
        """Aggregated lists and counters, plus a per-survey breakdown under `surveys`."""
        result: dict[str, Any] = {"ok": self.ok, "dry_run": self.dry_run, "verify": self.verify}
        for name in ("added", "updated", "deleted", "unchanged", "failed", "repaired"):
            result[name] = [item for report in self.surveys for item in getattr(report, name)]
        for name in ("bytes_downloaded", "bytes_uploaded", "source_requests", "not_modified"):
            result[name] = sum(getattr(report, name) for report in self.surveys)
        result["errors"] = [f"{report.survey}: {error}" for report in self.surveys for error in report.errors]
        result["seconds"] = round(self.seconds, 3)
        result["surveys"] = [report.to_dict() for report in self.surveys]
        return result


# --------------------------------------------------------------------------- entry points


def survey_targets(urls: tuple[str, ...]) -> list[tuple[str, str]]:
    """`(survey, url)` for each source directory: the survey is the URL's last path segment."""
    targets: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for url in urls:
        url = url if url.endswith("/") else url + "/"
        survey = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        try:
            validate_key(survey_prefix(survey).rstrip("/"))
        except StoreError:
            raise ConfigError(f"BLS_SOURCE_URL: {url!r} does not end in a usable directory name") from None
        if survey.endswith(BOOKKEEPING_SUFFIX):
            raise ConfigError(
                f"BLS_SOURCE_URL: {url!r} would mirror to {survey_prefix(survey)}, where the mirror keeps the "
                f"bookkeeping of survey {survey[: -len(BOOKKEEPING_SUFFIX)]!r}"
            )
        if survey in seen:
            raise ConfigError(
                f"BLS_SOURCE_URL: {seen[survey]!r} and {url!r} would both mirror to {survey_prefix(survey)}"
            )
        seen[survey] = url
        targets.append((survey, url))
    return targets


def run_mirror(
    settings: Settings,
    store: Store,
    *,
    client: PoliteClient | None = None,
    dry_run: bool = False,
    verify: bool = False,
    allow_mass_delete: bool = False,
    progress: Progress = None,
) -> MirrorResult:
    """Mirror every directory of `settings.bls_source_urls`; one survey failing does not stop the others."""
    started = time.perf_counter()
    targets = survey_targets(settings.bls_source_urls)
    own_client = client is None
    if client is None:
        client = PoliteClient.from_settings(settings)
    try:
        reports = [
            SurveyMirror(
                settings, store, client, survey, url,
                dry_run=dry_run, verify=verify, allow_mass_delete=allow_mass_delete, progress=progress,
            ).run()
            for survey, url in targets
        ]
    finally:
        if own_client:
            client.close()
    return MirrorResult(reports, dry_run=dry_run, verify=verify, seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class MirroredFile:
    """One mirrored file as the dashboard shows it."""

    name: str
    key: str
    size: int
    sha256: str
    last_modified: str | None


@dataclass(frozen=True)
class SurveyStatus:
    """One mirrored survey as the dashboard and /api/status show it (from its saved state)."""

    survey: str
    source_url: str
    last_sync: str | None
    last_change: str | None
    files: list[MirroredFile]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (/api/status `surveys`)."""
        return asdict(self)


def mirror_status(store: Store) -> list[SurveyStatus]:
    """Every mirrored survey (for the dashboard), from the saved states, files by name."""
    return [
        SurveyStatus(
            state.survey, state.source_url, state.last_sync, state.last_change,
            [MirroredFile(r.name, r.key, r.size, r.sha256, r.last_modified)
             for r in sorted(state.files.values(), key=lambda r: r.name)],
        )
        for state in list_states(store)
    ]


# --------------------------------------------------------------------------- one survey


@dataclass
class _Outcome:
    """The result of syncing one fetched file."""

    fetch: Fetch
    record: FileRecord | None = None
    uploaded: bool = False
    not_modified: bool = False
    bytes_downloaded: int = 0
    bytes_uploaded: int = 0
    error: str | None = None


class _IncompleteBody(Exception):
    """The body did not match what the response (or listing) announced."""


class SurveyMirror:
    """Syncs one source directory into `bls/<survey>/`."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: PoliteClient,
        survey: str,
        url: str,
        *,
        dry_run: bool = False,
        verify: bool = False,
        allow_mass_delete: bool = False,
        progress: Progress = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.survey = survey
        self.url = url
        self.prefix = survey_prefix(survey)
        self.dry_run = dry_run
        self.verify = verify
        self.allow_mass_delete = allow_mass_delete
        self.progress = progress
        self.report = SurveyResult(survey, url, self.prefix, dry_run=dry_run)
        self._previous: dict[str, FileRecord] = {}

    def run(self) -> SurveyResult:
        """Plan and apply; errors end up in the report, never as an exception (bugs excepted)."""
        started = time.monotonic()
        requests_before = self.client.requests_made
        log_event("mirror_run_start", survey=self.survey, source_url=self.url, prefix=self.prefix,
                  dry_run=self.dry_run, verify=self.verify)
        try:
            self._run()
        except PipelineError as error:
            self.report.errors.append(str(error))
            log_error("mirror_survey_failed", error, survey=self.survey, source_url=self.url)
        self.report.source_requests = self.client.requests_made - requests_before
        report = self.report
        log_event(
            "mirror_run_end", survey=self.survey, ok=report.ok, dry_run=self.dry_run,
            added=len(report.added), updated=len(report.updated), deleted=len(report.deleted),
            unchanged=len(report.unchanged), failed=len(report.failed), repaired=len(report.repaired),
            bytes_downloaded=report.bytes_downloaded, bytes_uploaded=report.bytes_uploaded,
            source_requests=report.source_requests, seconds=round(time.monotonic() - started, 3),
        )
        return report

    def _show(self, message: str) -> None:
        if self.progress:
            self.progress(f"{self.survey}: {message}")

    def _run(self) -> None:
        self._show("reading the listing")
        # The inventory is read while the listing travels: both are needed, neither depends on
        # the other, and a broken listing still changes nothing.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"inventory-{self.survey}") as pool:
            store_side = pool.submit(read_stored_survey, self.store, self.survey)
            listing = self._read_listing()
            stored = store_side.result()
        fingerprint = sync_fingerprint(listing.entries, stored.files, stored.state_etag)
        if not self.verify and marker_key(self.survey, fingerprint) in stored.markers:
            self.report.unchanged.extend(listing.names())  # as the last complete run left it
            return
        state, state_etag = load_state(self.store, self.survey)
        self._previous = state.files
        plan = make_plan(
            listing.entries, stored.files, state.files, self.prefix,
            verify=self.verify,
            mass_delete_fraction=self.settings.mass_delete_fraction,
            allow_mass_delete=self.allow_mass_delete,
        )
        if plan.mass_delete:
            raise SourceError(
                f"the listing of {self.url} no longer names {len(plan.deletes)} of the {plan.mirrored} "
                f"mirrored files (more than {self.settings.mass_delete_fraction:.0%}); nothing was changed. "
                "If the source really removed them, run again with --allow-mass-delete."
            )
        if self.dry_run:
            self._report_plan(plan)
            return
        outcomes = self._fetch_all(plan)
        deleted = self._delete(plan)
        self._sort_by(listing.names())
        saved_etag = self._save_state(state, state_etag, outcomes, deleted)
        if self.report.ok:
            self._mark_in_sync(listing, stored, outcomes, plan.delete_keys if deleted else (), saved_etag)

    def _sort_by(self, names: list[str]) -> None:
        """Report names in listing order, whatever order the downloads finished in."""
        order = {name: index for index, name in enumerate(names)}
        report = self.report
        for found in (report.added, report.updated, report.unchanged, report.failed, report.repaired):
            found.sort(key=lambda name: order.get(name, -1))

    def _read_listing(self) -> Listing:
        response = self.client.get(self.url)  # not streamed: the body is read (and retried) by `get`
        return parse_listing(response.content, self.url, response.headers.get("Content-Type"))

    def _report_plan(self, plan: Plan) -> None:
        report = self.report
        for fetch in plan.fetches:
            action = "add" if fetch.reason == NEW else "update"
            (report.added if action == "add" else report.updated).append(fetch.name)
            report.plan.append({"action": action, "name": fetch.name, "reason": fetch.reason})
        for name in plan.deletes:
            report.deleted.append(name)
            report.plan.append({"action": "delete", "name": name, "reason": "not in the listing"})
        report.unchanged.extend(plan.unchanged)

    # fetching
    def _fetch_all(self, plan: Plan) -> dict[str, _Outcome]:
        report = self.report
        report.unchanged.extend(plan.unchanged)
        outcomes: dict[str, _Outcome] = {}
        if not plan.fetches:
            return outcomes
        total = len(plan.fetches)
        with ThreadPoolExecutor(max_workers=self.settings.http_concurrency,
                                thread_name_prefix=f"mirror-{self.survey}") as pool:
            futures = [pool.submit(self._sync_file, fetch) for fetch in plan.fetches]
            for done, future in enumerate(as_completed(futures), start=1):
                outcome = future.result()
                outcomes[outcome.fetch.name] = outcome
                self._account(outcome)
                self._show(f"{done}/{total} files, {report.bytes_downloaded / 1e6:.1f} MB downloaded")
        return outcomes

    def _account(self, outcome: _Outcome) -> None:
        report, fetch = self.report, outcome.fetch
        report.bytes_downloaded += outcome.bytes_downloaded
        report.bytes_uploaded += outcome.bytes_uploaded
        report.not_modified += outcome.not_modified
        fields = {"survey": self.survey, "file": fetch.name, "key": fetch.key, "reason": fetch.reason}
        if outcome.error is not None:
            report.failed.append(fetch.name)
            log_error("file_failed", outcome.error, **fields)
        elif outcome.uploaded:
            assert outcome.record is not None
            event = "file_added" if fetch.reason == NEW else "file_updated"
            (report.added if fetch.reason == NEW else report.updated).append(fetch.name)
            if fetch.reason in DRIFT:
                report.repaired.append(fetch.name)
            log_event(event, **fields, size=outcome.record.size, sha256=outcome.record.sha256,
                      etag=outcome.record.etag)
        else:
            report.unchanged.append(fetch.name)

    def _sync_file(self, fetch: Fetch) -> _Outcome:
        """Download one file, and upload it unless the store already holds the same bytes."""
        outcome = _Outcome(fetch)
        try:
            self._download_and_store(fetch, outcome)
        except PipelineError as error:
            outcome.error = str(error)
            outcome.record = None
            outcome.uploaded = False
        return outcome

    def _download_and_store(self, fetch: Fetch, outcome: _Outcome) -> None:
        # One budget of `retries + 1` requests per file, shared with the client's own retries
        # (429, 5xx, connection errors): here only a body that did not add up is retried, and a
        # SourceError from `get` (it has retried already) ends the file at once.
        budget = self.client.retry_budget()
        validators = fetch.validators
        while True:
            headers = {"Accept-Encoding": "identity"}  # Content-Length must be the body's length
            if validators:
                headers.update(validators.conditional_headers())
            response = self.client.get(fetch.url, headers=headers, stream=True, budget=budget)
            try:
                if response.status_code == 304:
                    if not self._not_modified(fetch, validators, response, outcome):
                        validators = None  # an unconfirmed 304: ask again for the whole file, now
                        continue
                    return
                if response.status_code != 200:
                    raise SourceError(f"GET {fetch.url} answered {response.status_code} {response.reason}")
                with tempfile.TemporaryFile(prefix="mirror-") as spool:
                    try:
                        sha256, size = self._receive(fetch, response, spool, outcome)
                    except _IncompleteBody as error:
                        if not budget.can_retry:
                            raise SourceError(
                                f"GET {fetch.url}: incomplete download after {budget.attempts} attempts ({error})"
                            ) from None
                    else:
                        self._store(fetch, response, spool, sha256, size, outcome)
                        return
            finally:
                response.close()
            self.client.wait_before_retry(budget.attempts)

    def _not_modified(
        self, fetch: Fetch, validators: Validators | None, response: requests.Response, outcome: _Outcome
    ) -> bool:
        """True (and the bookkeeping done) if a 304 carries the validators stored for the file."""
        if fetch.known_sha256 is None or not validators:  # only intact files are asked conditionally
            raise SourceError(f"GET {fetch.url}: 304 Not Modified for a file that must be fetched")
        if not validators.confirmed_by(response):
            log_event("unconfirmed_not_modified", survey=self.survey, file=fetch.name,
                      etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified"))
            return False
        outcome.not_modified = True
        outcome.record = self._bookkeeping(fetch, None)
        return True

    def _receive(
        self, fetch: Fetch, response: requests.Response, spool: IO[bytes], outcome: _Outcome
    ) -> tuple[str, int]:
        """Stream the body into `spool`, hashing and counting; _IncompleteBody if it does not add up."""
        digest = hashlib.sha256()
        size = 0
        chunks = response.iter_content(_CHUNK)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except (requests.RequestException, OSError) as error:
                raise _IncompleteBody(f"connection broke after {size} bytes: {type(error).__name__}") from None
            digest.update(chunk)
            try:
                spool.write(chunk)
            except OSError as error:  # e.g. a full /tmp: not the source's fault, and not worth retrying
                raise PipelineError(
                    f"{fetch.name}: cannot write the download to a temp file in {tempfile.gettempdir()} ({error})"
                ) from None
            size += len(chunk)
            outcome.bytes_downloaded += len(chunk)
        announced = response.headers.get("Content-Length")
        if announced is not None and announced.isdigit() and int(announced) != size:
            raise _IncompleteBody(f"received {size} bytes, Content-Length said {announced}")
        if fetch.expected_size is not None and fetch.expected_size != size:
            raise _IncompleteBody(f"received {size} bytes, the listing said {fetch.expected_size}")
        spool.flush()
        spool.seek(0)
        return digest.hexdigest(), size

    def _store(
        self, fetch: Fetch, response: requests.Response, spool: IO[bytes], sha256: str, size: int,
        outcome: _Outcome,
    ) -> None:
        source = Validators.of(response)
        last_modified = source.last_modified
        known = fetch.known_sha256
        stored_etag: str | None = None
        if fetch.probe_store:  # the state was lost: trust the stored copy's own checksum
            head = self.store.head(fetch.key)
            if head.size == size and head.metadata.get("sha256") == sha256:
                known, stored_etag = sha256, head.etag
        if known == sha256:
            outcome.record = self._bookkeeping(fetch, source, sha256=sha256, size=size, etag=stored_etag)
            return
        metadata = {"source-url": response.url, "sha256": sha256}  # after same-host redirects
        if last_modified:
            metadata["source-last-modified"] = last_modified
        etag = self.store.put(fetch.key, spool, metadata=metadata, content_type="text/plain", sha256=sha256)
        outcome.uploaded = True
        outcome.bytes_uploaded = size
        outcome.record = FileRecord(
            name=fetch.name, key=fetch.key, size=size, sha256=sha256, etag=etag,
            last_modified=last_modified, listing_size=fetch.size_text, listing_time=fetch.time_text,
            source_etag=source.etag,
        )

    def _bookkeeping(
        self, fetch: Fetch, source: Validators | None, *, sha256: str | None = None, size: int | None = None,
        etag: str | None = None,
    ) -> FileRecord:
        """The stored copy is right: remember the new listing text (and the validators of a 200)."""
        previous = self._previous.get(fetch.name)
        source = source or Validators()
        if previous is None:
            assert sha256 is not None and size is not None and etag is not None
            return FileRecord(fetch.name, fetch.key, size, sha256, etag, source.last_modified,
                              fetch.size_text, fetch.time_text, source.etag)
        if source:  # a full answer: its validators replace the remembered ones
            previous = replace(previous, last_modified=source.last_modified, source_etag=source.etag)
        return replace(previous, listing_size=fetch.size_text, listing_time=fetch.time_text)

    # deleting and the state
    def _delete(self, plan: Plan) -> list[str]:
        if not plan.deletes:
            return []
        try:
            if plan.delete_keys:
                self.store.delete_many(plan.delete_keys)
        except StoreError as error:
            self.report.errors.append(f"deleting {len(plan.delete_keys)} object(s) failed: {error}")
            return []
        for name in plan.deletes:
            log_event("file_deleted", survey=self.survey, file=name, key=self.prefix + name)
        self.report.deleted.extend(plan.deletes)
        return list(plan.deletes)

    def _save_state(
        self, state: SurveyState, etag: str | None, outcomes: dict[str, _Outcome], deleted: list[str]
    ) -> str | None:
        """Save what changed (merged into a state another run wrote meanwhile); the state's ETag after."""
        changes = self._state_changes(outcomes, deleted)
        changed_content = bool(self.report.added or self.report.updated or deleted)
        for attempt in range(1, _STATE_ATTEMPTS + 1):
            files = dict(state.files)
            for name, record in changes.items():
                if record is None:
                    files.pop(name, None)
                else:
                    files[name] = record
            if files == state.files and not changed_content:
                # Nothing to remember: a no-change run writes nothing. A source URL that alone
                # changed (the same directory served from another origin, e.g. `run --offline`'s
                # local server on a new port) is recorded with the next real change.
                return etag
            now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            new_state = SurveyState(
                survey=self.survey,
                source_url=self.url,
                files=files,
                last_sync=now,
                last_change=now if changed_content else state.last_change,
            )
            try:
                return save_state(self.store, new_state, etag)
            except PreconditionFailed:
                log_event("mirror_state_conflict", survey=self.survey, attempt=attempt)
                if attempt == _STATE_ATTEMPTS:
                    break
                state, etag = load_state(self.store, self.survey)  # another run wrote it: merge ours on top
        raise StoreError(
            f"the mirror state of {self.survey} kept changing under this run (another mirror run is active); "
            "the files written are complete and the next run will reconcile the state"
        )

    def _mark_in_sync(
        self, listing: Listing, stored: StoredSurvey, outcomes: dict[str, _Outcome], deleted_keys: tuple[str, ...],
        state_etag: str | None,
    ) -> None:
        """Leave the marker of this complete run (what the store holds now), and remove older ones.

        Only an optimisation for the next run: failing to write it is logged, not an error.
        """
        gone = set(deleted_keys)
        files = {info.key: info for info in stored.files if info.key not in gone}
        for outcome in outcomes.values():
            if outcome.uploaded and outcome.record is not None:
                files[outcome.fetch.key] = ObjectInfo(outcome.fetch.key, outcome.record.size, outcome.record.etag)
        key = marker_key(self.survey, sync_fingerprint(listing.entries, files.values(), state_etag))
        try:
            if key not in stored.markers:
                self.store.put(key, b"", content_type="text/plain")
            if stale := [marker for marker in stored.markers if marker != key]:
                self.store.delete_many(stale)
        except StoreError as error:
            log_error("mirror_marker_failed", error, survey=self.survey, key=key)

    def _state_changes(self, outcomes: dict[str, _Outcome], deleted: list[str]) -> dict[str, FileRecord | None]:
        """Per touched name: the new record, or None to forget it. Failed files keep only an intact record."""
        changes: dict[str, FileRecord | None] = {}
        for name, outcome in outcomes.items():
            if outcome.record is not None:
                changes[name] = outcome.record
            elif outcome.fetch.known_sha256 is None:
                changes[name] = None  # the stored copy was missing, altered or unknown: claim nothing
        for name in deleted:
            changes[name] = None
        return changes


__all__ = ["MirrorResult", "SurveyResult", "SurveyStatus", "mirror_status", "run_mirror", "survey_targets"]
