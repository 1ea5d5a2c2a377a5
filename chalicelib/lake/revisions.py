"""Every release remembered: the `bls_revisions` rows of a data file's new version (docs/lake.md).

When a data file changes, `prepare` diffs the partition now in the silver layer (the previous
version) against the newly converted partition and stores one row per observation
(series_id, year, period) that differs — `revised` (value or footnotes changed), `added`,
`removed` — as one Parquet object of the `bls_revisions` table:

    silver/bls_revisions/survey=<s>/file=<f>/release=<vintage, UTC, YYYYMMDDTHHMMSSZ>/<new>.from-<previous>.parquet

(`<new>`/`<previous>`: 16 hex digits of the source versions, `none` for a first version). The very
first version of a file gets an object with no rows: it records the vintage only.

**Publication protocol** (the revision rows and the new partition are published together):
0. `stamp_version` fixes the new version's vintage: the source's Last-Modified, moved to one second after the
   previous version's vintage if it is not later (vintages order releases: strictly increasing).
1. `prepare` writes the revisions object R, keyed by (vintage, new version, previous version).
   If R is already there with the same previous version (a retry after a crash), it is reused.
2. The caller registers the Glue partitions (data file and release) — before 3, because a retry
   that finds the partition current does nothing more.
3. The caller writes the partition P — its rows carry the `vintage` column — conditional on the
   version of P that was diffed (`if_match` its ETag, or create-only), with metadata naming R
   (`revisions`), its `vintage` and the `previous-version`. If that condition fails (another writer
   moved P), `abandon` deletes R and the caller starts again from the new P.
4. `finish` deletes stale objects (`tidy`): objects of the file diffed against the same previous
   version, from its vintage on, not named by P (left by a crash between 1 and 3 followed by a new
   change, or by a writer that lost the race in 3). It runs again on the "unchanged" path, so a
   crash after 3 is repaired by the next delivery.
Writing P is the commit: readers take only **published** objects (`published_keys`, and the same rule
in SQL, `queries/bls_revisions_published.sql`) — released no later than P's vintage and, of objects
diffed against the same previous version, the latest. So R is invisible until P is written, whatever
crashes in between, and an object left by a crash or a lost race never counts twice.

The diff is a sort-merge over the two Parquet files read one row group at a time (both are in
the source's order, which for BLS files is (series_id, year, period) ascending — checked while
reading; a file that is not falls back to hashed passes, one per `BUCKETS_ROWS` rows). Memory: two row groups
and their keys. Values are compared as the stored scaled integers, never as floats.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from chalicelib.core.errors import NotFound
from chalicelib.core.layout import data_key
from chalicelib.core.log import log_event
from chalicelib.core.store import ObjectHead, Store
from chalicelib.lake import tables
from chalicelib.lake.parquet import open_raw, optional_cell_int
from chalicelib.lake.revision_diff import (
    ADDED,
    REMOVED,
    VALUE_WIDTH,
    value_text,
    write_revisions,
)

Clock = Callable[[], datetime]
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"


def utc_now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- names and keys


@dataclass(frozen=True)
class RevisionsPartition:
    """One release of one file in `bls_revisions` (a Glue partition: survey, file, release)."""

    survey: str
    file: str
    release: str
    table: str = tables.BLS_REVISIONS

    @property
    def prefix(self) -> str:
        return f"{file_prefix(self.survey, self.file)}release={self.release}/"

    @property
    def values(self) -> list[str]:
        return [self.survey, self.file, self.release]


def file_prefix(survey: str, file: str) -> str:
    """The folder of every release of one data file."""
    return f"{tables.table_prefix(tables.BLS_REVISIONS)}survey={survey}/file={file}/"


def survey_prefix(survey: str) -> str:
    return f"{tables.table_prefix(tables.BLS_REVISIONS)}survey={survey}/"


def release_name(vintage: datetime) -> str:
    """The `release` partition value of a vintage: UTC, basic ISO 8601 (no ':' in S3/Hive paths)."""
    return vintage.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def release_time(release: str) -> datetime:
    return datetime.strptime(release, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def version_tag(version: str | None) -> str:
    """16 hex digits naming a source version (the SHA-256's own digits when it is one)."""
    if not version:
        return "none"
    if version.startswith("sha256:"):
        return version.removeprefix("sha256:")[:16]
    return hashlib.sha256(version.encode()).hexdigest()[:16]


def revisions_key(survey: str, file: str, vintage: datetime, version: str, previous: str | None) -> str:
    release = RevisionsPartition(survey, file, release_name(vintage))
    return f"{release.prefix}{version_tag(version)}.from-{version_tag(previous)}.parquet"


def parse_key(key: str) -> tuple[str, str, str] | None:
    """(survey, file, release) of a revisions object key, or None."""
    parts = key.removeprefix(tables.table_prefix(tables.BLS_REVISIONS)).split("/")
    if len(parts) != 4 or not key.endswith(".parquet"):
        return None
    names = [p.partition("=") for p in parts[:3]]
    if [n[0] for n in names] != ["survey", "file", "release"]:
        return None
    return names[0][2], names[1][2], names[2][2]


def vintage_of(head: ObjectHead, fallback: datetime) -> datetime:
    """The source's Last-Modified as the mirror recorded it (`source-last-modified`), else `fallback`."""
    text = head.metadata.get("source-last-modified")
    if text:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    return fallback.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


# --------------------------------------------------------------------------- the protocol


@dataclass(frozen=True)
class Prepared:
    """A revisions object written (or found) for a new version, and what the partition must record."""

    key: str
    partition: RevisionsPartition
    previous_version: str | None
    summary: dict[str, Any]
    reused: bool

    @property
    def partition_metadata(self) -> dict[str, str]:
        """Metadata of the new bls_data partition naming this revisions object."""
        return {"revisions": self.key, "vintage": self.summary["vintage"],
                "previous-version": self.previous_version or "",
                "previous-vintage": self.summary.get("previous_vintage") or ""}


@dataclass(frozen=True)
class Stamp:
    """A new version's vintage (when the source published it), when the lake saw it, and the vintage of
    the version it replaces (None: a first version, or a partition written before vintages were kept)."""

    vintage: datetime
    recorded_at: datetime
    previous_vintage: datetime | None


def stamp_version(source: ObjectHead, previous: ObjectHead | None, clock: Clock = utc_now) -> Stamp:
    """Step 0: the source's Last-Modified (else the time seen), always after the previous version's
    vintage (one second after it when not: the source's clock went back or did not move)."""
    recorded_at = clock().astimezone(UTC)  # to the microsecond: orders releases of the same second
    vintage = vintage_of(source, recorded_at)
    previous_vintage = _parse_iso(previous.metadata.get("vintage")) if previous else None
    if previous_vintage is not None and vintage <= previous_vintage:
        log_event("vintage_moved", source=source.key, last_modified=_iso(vintage),
                  previous_vintage=_iso(previous_vintage))
        vintage = previous_vintage + timedelta(seconds=1)
    return Stamp(vintage, recorded_at, previous_vintage)


def prepare(store: Store, survey: str, file: str, *, new_path: Path, version: str, previous: ObjectHead | None,
            stamp: Stamp, workdir: Path) -> Prepared:
    """Step 1: write (or reuse) the revisions object of `version` against the partition `previous`."""
    vintage, previous_vintage, recorded_at = stamp.vintage, stamp.previous_vintage, stamp.recorded_at
    previous_version = previous.metadata.get("source-version") if previous else None
    key = revisions_key(survey, file, vintage, version, previous_version)
    partition = RevisionsPartition(survey, file, release_name(vintage))
    try:
        found = store.head(key)
    except NotFound:
        found = None
    if found is not None and found.metadata.get("previous-version", "") == (previous_version or ""):
        log_event("revisions_reused", key=key)
        return Prepared(key, partition, previous_version, json.loads(found.metadata.get("summary", "{}")), True)
    context = {"vintage": vintage, "previous_vintage": previous_vintage, "recorded_at": recorded_at}
    old_path = None
    if previous is not None:
        old_path = workdir / "previous.parquet"
        with store.open(previous.key) as stream, open(old_path, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
    out_path = workdir / "revisions.parquet"
    rows, summary = write_revisions(out_path, old_path, new_path, context)
    if old_path is not None:
        os.unlink(old_path)
    document = {"survey": survey, "file": file, "release": partition.release, "vintage": _iso(vintage),
                "previous_vintage": _iso(previous_vintage), "recorded_at": _iso(recorded_at),
                "first_version": previous is None, **summary.to_dict(), "rows": rows}
    text = _bounded_json(document)
    with open(out_path, "rb") as body:
        store.put(key, body, content_type=PARQUET_CONTENT_TYPE, metadata={
            "version": version, "previous-version": previous_version or "", "rows": str(rows),
            "vintage": document["vintage"], "summary": text})
    os.unlink(out_path)
    return Prepared(key, partition, previous_version, json.loads(text), False)


def _bounded_json(document: dict[str, Any], limit: int = 1500) -> str:
    """Compact ASCII JSON small enough for S3 user metadata (largest revisions dropped if needed)."""
    while True:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=True)
        if len(text) <= limit or not document.get("largest"):
            return text
        document = {**document, "largest": document["largest"][:-1]}


def abandon(store: Store, prepared: Prepared) -> None:
    """The partition could not be written over the version diffed: the revisions object goes."""
    store.delete_many([prepared.key])
    log_event("revisions_abandoned", key=prepared.key)


def finish(store: Store, prepared: Prepared) -> None:
    """Step 3: remove stale objects, log the summary (one JSON line). (The caller registers
    `prepared.partition` in the catalog before step 2.)"""
    tidy(store, prepared.partition.survey, prepared.partition.file, prepared.key, prepared.previous_version,
         prepared.summary.get("previous_vintage"))
    if not prepared.reused:
        log_event("revisions_recorded", key=prepared.key, **prepared.summary)


def tidy(store: Store, survey: str, file: str, keep: str, previous_version: str | None,
         previous_vintage: str | None = None) -> list[str]:
    """Delete revisions objects of the file diffed against `previous_version` other than `keep`.

    Only releases from `previous_vintage` on (ISO; the vintage of the partition that was diffed): an
    older object diffed against the same bytes is history (a file that went back to an earlier version).
    """
    suffix = f".from-{version_tag(previous_version)}.parquet"
    moment = _parse_iso(previous_vintage)
    since = release_name(moment) if moment else ""
    stale = [info.key for info in store.list(file_prefix(survey, file))
             if info.key.endswith(suffix) and info.key != keep and (parse_key(info.key) or ("", "", ""))[2] >= since]
    if stale:
        store.delete_many(stale)
        log_event("revisions_stale_deleted", keys=stale)
    return stale


# --------------------------------------------------------------------------- what is published


def published_keys(keys: list[str], partition: ObjectHead | None) -> set[str]:
    """Which of one file's revisions objects are published (module doc, "Writing P is the commit").

    `partition`: the file's bls_data partition (None: there is none, so nothing is published). An object
    counts when its release is no later than the partition's vintage (a partition without one predates
    the rule: no bound) and it is the latest of the objects diffed against the same previous version.
    """
    if partition is None:
        return set()
    bound = _parse_iso(partition.metadata.get("vintage"))
    latest: dict[str, tuple[str, str]] = {}
    for key in keys:
        parsed = parse_key(key)
        if parsed is None or (bound is not None and release_time(parsed[2]) > bound):
            continue
        source = key.rsplit(".from-", 1)[-1]
        latest[source] = max(latest.get(source, (parsed[2], key)), (parsed[2], key))
    return {key for _, key in latest.values()}


class Publication:
    """`published_keys` over many files, reading each file's partition once (when first asked)."""

    def __init__(self, store: Store, keys: list[str]) -> None:
        self.store = store
        self.files: dict[tuple[str, str], list[str]] = {}
        for key in keys:
            if parsed := parse_key(key):
                self.files.setdefault((parsed[0], parsed[1]), []).append(key)
        self.known: dict[tuple[str, str], set[str]] = {}

    def __contains__(self, key: str) -> bool:
        parsed = parse_key(key)
        if parsed is None:
            return False
        survey, file = parsed[0], parsed[1]
        if (survey, file) not in self.known:
            try:
                head: ObjectHead | None = self.store.head(tables.Partition(
                    tables.BLS_DATA, data_key(survey, file), survey, file).key)
            except NotFound:
                head = None
            self.known[(survey, file)] = published_keys(self.files.get((survey, file), []), head)
        return key in self.known[(survey, file)]


# --------------------------------------------------------------------------- reading summaries


def release_summaries(store: Store, survey: str, *, since: datetime | None = None,
                      limit: int = 50) -> list[dict[str, Any]]:
    """The published release summaries of a survey's files (newest release first, at most `limit`)."""
    summaries: list[dict[str, Any]] = []
    for key in _newest_published(store, survey_prefix(survey), since, limit):
        try:
            head = store.head(key)
        except NotFound:
            continue
        try:
            summary = json.loads(head.metadata.get("summary", "{}"))
        except ValueError:
            summary = {}
        summaries.append({**summary, "key": key})
        if len(summaries) == limit:
            break
    return summaries


def latest_summaries(store: Store, limit: int = 10) -> list[dict[str, Any]]:
    """The newest published release summaries over every survey (for the dashboard's status)."""
    out: list[dict[str, Any]] = []
    for key in _newest_published(store, tables.table_prefix(tables.BLS_REVISIONS), None, limit):
        try:
            out.append({**json.loads(store.head(key).metadata.get("summary", "{}")), "key": key})
        except (NotFound, ValueError):
            continue
        if len(out) == limit:
            break
    return out


def _newest_published(store: Store, prefix: str, since: datetime | None, limit: int) -> Iterator[str]:
    """The published revisions objects under `prefix`, newest release first (releases from `since` on;
    nothing when `limit` < 1). Lazy: each file's partition is read when its first object comes up."""
    if limit < 1:
        return
    keys = [info.key for info in store.list(prefix)]
    published = Publication(store, keys)
    found = sorted(((parsed[2], key) for key in keys if (parsed := parse_key(key))
                    and (since is None or release_time(parsed[2]) >= since)), reverse=True)
    yield from (key for _, key in found if key in published)


def series_revisions(store: Store, survey: str, file: str, series_id: str, period: str | None = None,
                     *, max_releases: int = 100) -> list[dict[str, Any]]:
    """Per observation of a series that was ever revised: the first value recorded and the latest one.

    `first` is the value in the oldest recorded version (None if it was added later), `latest` the
    value now (None if removed); `revisions` how many releases changed it.
    """
    import tempfile

    listed = [info.key for info in store.list(file_prefix(survey, file))]
    published = Publication(store, listed)
    keys = sorted((parse_key(key) or ("", "", ""))[2] + "\0" + key for key in listed if key in published)
    observations: dict[tuple[int, str], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for entry in keys[:max_releases]:
            key = entry.split("\0", 1)[1]
            path = Path(folder) / "r.parquet"
            with store.open(key) as stream, open(path, "wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
            reader, _ = open_raw(str(path))
            if not reader.row_groups:
                continue
            frame = reader.to_pandas(columns=["series_id", "year", "period", "previous_value", "value", "change"],
                                     filters=[("series_id", "==", series_id)])
            frame = frame[frame["series_id"] == series_id]
            if period:
                frame = frame[frame["period"] == period]
            for row in frame.itertuples(index=False):
                slot = (int(row.year), str(row.period))
                old = None if row.change == ADDED else optional_cell_int(row.previous_value, VALUE_WIDTH)
                new = None if row.change == REMOVED else optional_cell_int(row.value, VALUE_WIDTH)
                item = observations.setdefault(slot, {"year": slot[0], "period": slot[1], "first": old, "revisions": 0})
                item["latest"] = new
                item["revisions"] += 1
    return [{**item, "first": _text_or_none(item["first"]), "latest": _text_or_none(item["latest"])}
            for _, item in sorted(observations.items())]


def _text_or_none(raw: int | None) -> str | None:
    return None if raw is None else value_text(raw)


def as_of_bound(text: str) -> tuple[datetime, str]:
    """The instant an `--as-of` value means, and its SQL timestamp text.

    A date `YYYY-MM-DD` means the end of that day (UTC): every release with a vintage on or before it
    is known. A time `YYYY-MM-DDTHH:MM:SSZ` means that instant. ValueError otherwise.
    """
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
            moment = day + timedelta(days=1) - timedelta(microseconds=1)
        else:
            moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"--as-of {text!r}: expected a date YYYY-MM-DD or a UTC time YYYY-MM-DDTHH:MM:SSZ") from None
    return moment, moment.strftime("%Y-%m-%d %H:%M:%S.%f")
