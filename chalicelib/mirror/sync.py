"""The BLS mirror: keep `bls/<survey>/` in the store exactly in sync with BLS directories.

`run_mirror` runs each survey: listing + inventory, then (unless the in-sync marker
matches) plan, stream what changed into the store while hashing it (only changed
content is kept), delete, save state, leave a marker. A run where nothing changed
writes nothing. See docs/mirror.md ("How a run works").

A source URL ending in `/time.series/` is the root: its listing names the surveys. With a
time budget a run stops starting transfers when it is used up and reports `complete:
false` and what is `pending`; the next run continues, and a survey gets its in-sync marker
only once complete. See docs/every-survey.md.

The run's result types are in `chalicelib.mirror.results`, which directories it visits in
`chalicelib.mirror.targets`, and the dashboard's read model of the saved states in
`chalicelib.mirror.status`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from typing import Any

from chalicelib.core.errors import PipelineError, PreconditionFailed, SourceError, StoreError
from chalicelib.core.http_client import PoliteClient
from chalicelib.core.layout import marker_key, mirror_state_key, survey_prefix
from chalicelib.core.log import log_error, log_event
from chalicelib.core.settings import Settings
from chalicelib.core.store import ObjectInfo, Store
from chalicelib.mirror.budget import UNLIMITED, Deadlines
from chalicelib.mirror.listing import Listing, parse_directories, parse_listing
from chalicelib.mirror.plan import DRIFT, NEW, Plan, make_plan
from chalicelib.mirror.progress import Listener, Meter
from chalicelib.mirror.results import MirrorResult, SurveyResult
from chalicelib.mirror.state import (
    FileRecord,
    StoredSurvey,
    SurveyState,
    load_state,
    read_stored_survey,
    save_state,
    sync_fingerprint,
)
from chalicelib.mirror.targets import discover
from chalicelib.mirror.transfer import FileResult, Transfer

Progress = Callable[[str], None] | None
_STATE_ATTEMPTS = 3


def run_mirror(
    settings: Settings,
    store: Store,
    *,
    client: PoliteClient | None = None,
    dry_run: bool = False,
    verify: bool = False,
    allow_mass_delete: bool = False,
    progress: Progress = None,
    deadlines: Deadlines | None = None,
    listener: Listener | None = None,
    give_up: Mapping[str, str] | None = None,
) -> MirrorResult:
    """Mirror every directory of `settings.bls_source_urls`; one survey failing does not stop the others.

    Surveys are visited in order; once `deadlines` allows no new transfer, the rest are
    reported as not reached. Progress goes to `listener` and, every 30 s, to the log.
    """
    started = time.perf_counter()
    if deadlines is None:
        deadlines = Deadlines.from_budget(settings.mirror_time_budget, settings.mirror_file_deadline)
    own_client = client is None
    if client is None:
        client = PoliteClient.from_settings(settings)
    meter = Meter(listener)
    options: dict[str, Any] = {"dry_run": dry_run, "verify": verify, "allow_mass_delete": allow_mass_delete,
               "progress": progress, "deadlines": deadlines, "meter": meter}
    try:
        targets = discover(settings, store, client)
        with meter.heartbeat():
            reports = [
                SurveyResult(survey, url, survey_prefix(survey), errors=[give_up[survey]])
                if give_up and survey in give_up
                else SurveyMirror(settings, store, client, survey, url, **options).run()
                if deadlines.can_start() else SurveyResult(survey, url, survey_prefix(survey), reached=False)
                for survey, url in targets.surveys
            ]
            reports += [
                SurveyMirror(settings, store, client, survey, "", vanished=True, **options).run()
                for survey in targets.vanished
            ]
    finally:
        if own_client:
            client.close()
    return MirrorResult(reports, dry_run=dry_run, verify=verify, seconds=time.perf_counter() - started,
                        skipped=targets.skipped)



# --------------------------------------------------------------------------- one survey


class SurveyMirror:
    """Syncs one source directory into `bls/<survey>/` (`vanished`: the root no longer lists it)."""

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
        deadlines: Deadlines = UNLIMITED,
        meter: Meter | None = None,
        vanished: bool = False,
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
        self.deadlines = deadlines
        self.meter = meter or Meter()
        self.vanished = vanished
        self.report = SurveyResult(survey, url, self.prefix, dry_run=dry_run)
        self._bytes_lock = threading.Lock()

    def run(self) -> SurveyResult:
        """Plan and apply; errors end up in the report, never as an exception (bugs excepted)."""
        started = time.monotonic()
        requests_before = self.client.requests_made
        log_event("mirror_run_start", survey=self.survey, source_url=self.url, prefix=self.prefix,
                  dry_run=self.dry_run, verify=self.verify, vanished=self.vanished)
        try:
            self._run()
        except PipelineError as error:
            self.report.errors.append(str(error))
            log_error("mirror_survey_failed", error, survey=self.survey, source_url=self.url)
        self.report.source_requests = self.client.requests_made - requests_before
        report = self.report
        log_event(
            "mirror_run_end", survey=self.survey, ok=report.ok, complete=report.complete, dry_run=self.dry_run,
            added=len(report.added), updated=len(report.updated), deleted=len(report.deleted),
            unchanged=len(report.unchanged), failed=len(report.failed), repaired=len(report.repaired),
            pending=len(report.pending), bytes_downloaded=report.bytes_downloaded,
            bytes_uploaded=report.bytes_uploaded, source_requests=report.source_requests,
            seconds=round(time.monotonic() - started, 3),
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
            listing = Listing(self.url, ()) if self.vanished else self._read_listing()
            stored = store_side.result()
        fingerprint = sync_fingerprint(listing.entries, stored.files, stored.state_etag)
        if not self.verify and marker_key(self.survey, fingerprint) in stored.markers:
            self.report.unchanged.extend(listing.names())  # as the last complete run left it
            return
        state, state_etag = load_state(self.store, self.survey)
        plan = make_plan(
            listing.entries, stored.files, state.files, self.prefix,
            verify=self.verify,
            mass_delete_fraction=self.settings.mass_delete_fraction,
            allow_mass_delete=self.allow_mass_delete,
        )
        if plan.mass_delete:
            where = "the root listing no longer names this survey" if self.vanished else \
                f"the listing of {self.url} no longer names {len(plan.deletes)} of the {plan.mirrored} mirrored files"
            raise SourceError(
                f"{where} (more than {self.settings.mass_delete_fraction:.0%} of them); nothing was changed. "
                "If the source really removed them, run again with --allow-mass-delete."
            )
        if self.dry_run:
            self._report_plan(plan)
            return
        results = self._fetch_all(plan, Transfer(self.store, self.client, self.deadlines, state.files,
                                                 self._received))
        deleted = self._delete(plan)
        self._sort_by(listing.names())
        saved_etag = self._save_state(state, state_etag, results, deleted)
        if self.vanished and self.report.ok:  # every file is gone: so is the bookkeeping
            self.store.delete_many([mirror_state_key(self.survey), *stored.markers])
        elif self.report.ok and self.report.complete:
            self._mark_in_sync(listing, stored, results, plan.delete_keys if deleted else (), saved_etag)

    def _sort_by(self, names: list[str]) -> None:
        """Report names in listing order, whatever order the downloads finished in."""
        order = {name: index for index, name in enumerate(names)}
        report = self.report
        for found in (report.added, report.updated, report.unchanged, report.failed, report.repaired,
                      report.pending):
            found.sort(key=lambda name: order.get(name, -1))

    def _read_listing(self) -> Listing:
        response = self.client.get(self.url)  # not streamed: the body is read (and retried) by `get`
        listing = parse_listing(response.content, self.url, response.headers.get("Content-Type"))
        self.report.skipped = [name + "/" for name, _ in parse_directories(response.content, self.url)]
        return listing

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
    def _fetch_all(self, plan: Plan, transfer: Transfer) -> list[FileResult]:
        """Run the plan's fetches, the largest first (a continuation gives them the most time)."""
        self.report.unchanged.extend(plan.unchanged)
        if not plan.fetches:
            return []
        fetches = sorted(plan.fetches, key=lambda fetch: -(fetch.expected_size or 0))
        self.meter.plan(self.survey, len(fetches), sum(fetch.expected_size or 0 for fetch in fetches))
        results = []
        with ThreadPoolExecutor(max_workers=self.settings.http_concurrency,
                                thread_name_prefix=f"mirror-{self.survey}") as pool:
            futures = [pool.submit(transfer.run, fetch) for fetch in fetches]
            for done, future in enumerate(as_completed(futures), start=1):
                result = future.result()
                results.append(result)
                self._account(result)
                self.meter.file_done()
                self._show(f"{done}/{len(fetches)} files, {self.report.bytes_downloaded / 1e6:.1f} MB downloaded")
        return results

    def _received(self, count: int) -> None:
        """Bytes arrived (every attempt of every file counts), from any download thread."""
        with self._bytes_lock:
            self.report.bytes_downloaded += count
        self.meter.add_bytes(count)

    def _account(self, result: FileResult) -> None:
        report, fetch = self.report, result.fetch
        report.not_modified += result.not_modified
        fields: dict[str, Any] = {"survey": self.survey, "file": fetch.name, "key": fetch.key, "reason": fetch.reason}
        if result.error is not None:
            report.failed.append(fetch.name)
            log_error("file_failed", result.error, **fields)
        elif result.pending:
            report.pending.append(fetch.name)
            if result.abandoned:
                report.abandoned.append(fetch.name)
                log_event("file_abandoned", **fields)
        elif result.uploaded:
            assert result.record is not None
            report.bytes_uploaded += result.record.size
            (report.added if fetch.reason == NEW else report.updated).append(fetch.name)
            if fetch.reason in DRIFT:
                report.repaired.append(fetch.name)
            log_event("file_added" if fetch.reason == NEW else "file_updated", **fields,
                      size=result.record.size, sha256=result.record.sha256, etag=result.record.etag)
        else:
            report.unchanged.append(fetch.name)

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
        self, state: SurveyState, etag: str | None, results: list[FileResult], deleted: list[str]
    ) -> str | None:
        """Save what changed (merged into a state another run wrote meanwhile); the state's ETag after."""
        changes = self._state_changes(results, deleted)
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
        self, listing: Listing, stored: StoredSurvey, results: list[FileResult], deleted_keys: tuple[str, ...],
        state_etag: str | None,
    ) -> None:
        """Leave the marker of this complete run (what the store holds now), and remove older ones.

        Only an optimisation for the next run: failing to write it is logged, not an error.
        """
        gone = set(deleted_keys)
        files = {info.key: info for info in stored.files if info.key not in gone}
        for result in results:
            if result.uploaded and result.record is not None:
                files[result.fetch.key] = ObjectInfo(result.fetch.key, result.record.size, result.record.etag)
        key = marker_key(self.survey, sync_fingerprint(listing.entries, files.values(), state_etag))
        try:
            if key not in stored.markers:
                self.store.put(key, b"", content_type="text/plain")
            if stale := [marker for marker in stored.markers if marker != key]:
                self.store.delete_many(stale)
        except StoreError as error:
            log_error("mirror_marker_failed", error, survey=self.survey, key=key)

    @staticmethod
    def _state_changes(results: list[FileResult], deleted: list[str]) -> dict[str, FileRecord | None]:
        """Per touched name: the new record, or None to forget it. Failed and pending files keep
        only an intact record."""
        changes: dict[str, FileRecord | None] = {}
        for result in results:
            if result.record is not None:
                changes[result.fetch.name] = result.record
            elif result.fetch.known_sha256 is None:
                changes[result.fetch.name] = None  # the stored copy was missing, altered or unknown: claim nothing
        for name in deleted:
            changes[name] = None
        return changes


__all__ = ["Progress", "SurveyMirror", "run_mirror"]
