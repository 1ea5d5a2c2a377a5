"""The mirror's plan: what to fetch, delete or leave alone. Pure: no I/O, table-tested.

Inputs are the parsed listing, the store's cheap inventory of the survey's
prefix (keys, sizes, ETags from one LIST) and the saved state. A file is
fetched when it is new, when its listing entry changed (size or time text),
when its stored object is missing or differs from what the state recorded
(drift), or when `verify` asks for a deep check. Anything stored under the
prefix that the listing does not name is deleted, unless that would remove
more than `mass_delete_fraction` of the mirrored files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chalicelib.core.http_client import Validators
from chalicelib.core.store import ObjectInfo
from chalicelib.mirror.listing import ListingEntry
from chalicelib.mirror.state import FileRecord

# Why a file is fetched (also shown by --dry-run).
NEW = "new file"
NOT_IN_STATE = "stored but not in the state"
MISSING = "missing from the store"
ALTERED = "altered in the store"
SIZE_CHANGED = "listed size changed"
TIME_CHANGED = "listed time changed"
VERIFY = "verify"
DRIFT = frozenset({MISSING, ALTERED})


@dataclass(frozen=True)
class Fetch:
    """One file to download.

    `validators` make the GET conditional (If-None-Match / If-Modified-Since); a 304 means
    nothing to do only if it carries the same validators, otherwise the file is fetched in full;
    `known_sha256` is the SHA-256 of the intact stored copy (equal content → no upload);
    `probe_store` asks to read the stored object's metadata first (state lost).
    """

    name: str
    key: str
    url: str
    reason: str
    size_text: str | None = None
    time_text: str | None = None
    expected_size: int | None = None
    validators: Validators | None = None
    known_sha256: str | None = None
    probe_store: bool = False


@dataclass(frozen=True)
class Plan:
    """What one run will do to one survey's prefix."""

    fetches: tuple[Fetch, ...]
    deletes: tuple[str, ...]  # names no longer listed (stored or only remembered)
    delete_keys: tuple[str, ...]  # the stored keys among them
    unchanged: tuple[str, ...]
    mirrored: int  # files known before the run (state or store)
    mass_delete: bool  # the deletes exceed the threshold and were not allowed

    @property
    def adds(self) -> tuple[Fetch, ...]:
        """Fetches of files the mirror has never had."""
        return tuple(f for f in self.fetches if f.reason == NEW)

    @property
    def updates(self) -> tuple[Fetch, ...]:
        """Fetches of files the mirror has or had (changed, drifted or verified)."""
        return tuple(f for f in self.fetches if f.reason != NEW)

    @property
    def changes_anything(self) -> bool:
        """False when the run has nothing to fetch and nothing to delete."""
        return bool(self.fetches or self.deletes)


def make_plan(
    entries: Iterable[ListingEntry],
    inventory: Iterable[ObjectInfo],
    state: Mapping[str, FileRecord],
    prefix: str,
    *,
    verify: bool = False,
    mass_delete_fraction: float = 0.5,
    allow_mass_delete: bool = False,
) -> Plan:
    """Compare the listing with the store's inventory and the saved state.

    `inventory` holds the objects whose keys start with `prefix` (e.g. `bls/pr/`).
    """
    listed = {entry.name: entry for entry in entries}
    stored = {info.key[len(prefix):]: info for info in inventory if info.key.startswith(prefix)}
    fetches: list[Fetch] = []
    unchanged: list[str] = []
    for name, entry in listed.items():
        record = state.get(name)
        info = stored.get(name)
        fetch = _fetch_for(entry, prefix + name, record, info, verify)
        if fetch is None:
            unchanged.append(name)
        else:
            fetches.append(fetch)
    known = stored.keys() | state.keys()
    gone = sorted(known - listed.keys())
    delete_keys = tuple(prefix + name for name in gone if name in stored)
    mirrored = len(known)
    too_many = mirrored > 0 and len(gone) > mass_delete_fraction * mirrored
    return Plan(
        fetches=tuple(fetches),
        deletes=tuple(gone),
        delete_keys=delete_keys,
        unchanged=tuple(unchanged),
        mirrored=mirrored,
        mass_delete=too_many and not allow_mass_delete,
    )


def _fetch_for(
    entry: ListingEntry, key: str, record: FileRecord | None, info: ObjectInfo | None, verify: bool
) -> Fetch | None:
    def fetch(reason: str, **extra: object) -> Fetch:
        return Fetch(
            name=entry.name,
            key=key,
            url=entry.url,
            reason=reason,
            size_text=entry.size_text,
            time_text=entry.time_text,
            expected_size=entry.size,
            **extra,  # type: ignore[arg-type]
        )

    if record is None:
        return fetch(NEW) if info is None else fetch(NOT_IN_STATE, probe_store=True)
    if info is None:
        return fetch(MISSING)
    if info.size != record.size or info.etag != record.etag:
        return fetch(ALTERED)
    # From here on the stored copy is intact: equal content needs no upload.
    if entry.size_text != record.listing_size:
        return fetch(SIZE_CHANGED, known_sha256=record.sha256)
    if entry.time_text != record.listing_time:
        known = Validators(record.source_etag, record.last_modified)
        return fetch(TIME_CHANGED, known_sha256=record.sha256, validators=known or None)
    if verify:
        return fetch(VERIFY, known_sha256=record.sha256)
    return None


__all__ = ["DRIFT", "Fetch", "Plan", "make_plan"]
