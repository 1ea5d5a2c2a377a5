"""The mirror's bookkeeping, per survey, in `bls/<survey>.mirror/` beside the mirrored files.

`state.json` (what each mirrored file is; written after the files, conditionally) and an
empty `in-sync-<fingerprint>` marker left by a run that ended fully in sync. '.' sorts
before '/', so one LIST of `bls/<survey>` returns the bookkeeping first. See docs/mirror.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib.core.errors import NotFound, StoreError
from chalicelib.core.layout import (
    BLS_PREFIX,
    bookkeeping_prefix,
    marker_prefix,
    mirror_state_key,
    survey_of_state_key,
    survey_prefix,
)
from chalicelib.core.store import ObjectInfo, Store
from chalicelib.mirror.listing import ListingEntry

STATE_VERSION = 1
_FINGERPRINT_FORMAT = 1


@dataclass(frozen=True)
class FileRecord:
    """One mirrored file as stored: the store's ETag plus what the source said about it."""

    name: str
    key: str
    size: int
    sha256: str
    etag: str
    last_modified: str | None = None  # the source's Last-Modified header
    listing_size: str | None = None  # size text of the listing entry
    listing_time: str | None = None  # time text of the listing entry
    source_etag: str | None = None  # the source's ETag header (with Last-Modified: the validators)


@dataclass
class SurveyState:
    """Everything the mirror remembers about one survey directory."""

    survey: str
    source_url: str = ""
    files: dict[str, FileRecord] = field(default_factory=dict)
    last_sync: str | None = None
    last_change: str | None = None

    def to_json(self) -> bytes:
        """Deterministic JSON (sorted keys) for storing."""
        document = {
            "version": STATE_VERSION,
            "survey": self.survey,
            "source_url": self.source_url,
            "last_sync": self.last_sync,
            "last_change": self.last_change,
            "files": {name: asdict(record) for name, record in sorted(self.files.items())},
        }
        return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, survey: str, body: bytes) -> SurveyState:
        """Parse a stored state; a damaged document raises StoreError (it is never guessed at)."""
        try:
            document: dict[str, Any] = json.loads(body)
            files = {name: FileRecord(**record) for name, record in document.get("files", {}).items()}
            return cls(
                survey=document.get("survey", survey),
                source_url=document.get("source_url", ""),
                files=files,
                last_sync=document.get("last_sync"),
                last_change=document.get("last_change"),
            )
        except (ValueError, TypeError, AttributeError) as error:
            raise StoreError(
                f"the mirror state {mirror_state_key(survey)} is damaged ({error}); delete it to rebuild it "
                "(the next run then re-downloads and compares every file, uploading nothing that is intact)"
            ) from None


def sync_fingerprint(entries: Iterable[ListingEntry], stored: Iterable[ObjectInfo], state_etag: str | None) -> str:
    """A digest of everything a run compares: listed names with their size and time text,
    the stored files' keys, sizes and ETags, and the state's ETag."""
    document = {
        "format": (_FINGERPRINT_FORMAT, STATE_VERSION),  # a new planning rule or state format: new markers
        # tuples (typed rows) serialize as the same JSON arrays as lists: the digests do not change
        "listing": sorted(((e.name, e.size_text, e.time_text) for e in entries), key=lambda row: row[0]),
        "stored": sorted(((i.key, i.size, i.etag) for i in stored), key=lambda row: row[0]),
        "state": state_etag,
    }
    return hashlib.sha256(json.dumps(document, separators=(",", ":")).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class StoredSurvey:
    """What one LIST of `bls/<survey>` shows: the mirrored files, the state's ETag, the markers."""

    files: tuple[ObjectInfo, ...]
    state_etag: str | None
    markers: tuple[str, ...]


def read_stored_survey(store: Store, survey: str) -> StoredSurvey:
    """One LIST of `bls/<survey>` from the bookkeeping folder on, stopped past `bls/<survey>/`.

    Other surveys whose names extend this one's (`pr-x`, `prx`) sort before the bookkeeping
    or after the files and are not read; S3 "folder" objects (keys ending in `/`) are ignored.
    """
    data_prefix, own = survey_prefix(survey), bookkeeping_prefix(survey)
    state, marker = mirror_state_key(survey), marker_prefix(survey)
    files: list[ObjectInfo] = []
    markers: list[str] = []
    state_etag = None
    for info in store.list(data_prefix.rstrip("/"), start_after=own.rstrip("/")):
        if info.key.endswith("/"):
            continue
        if info.key.startswith(data_prefix):
            files.append(info)
        elif info.key == state:
            state_etag = info.etag
        elif info.key.startswith(marker):
            markers.append(info.key)
        elif info.key > data_prefix:
            break  # another survey whose name starts with this one's (keys come in order)
    return StoredSurvey(tuple(files), state_etag, tuple(markers))


def load_state(store: Store, survey: str) -> tuple[SurveyState, str | None]:
    """The saved state and its ETag; an empty state and None if there is none yet."""
    try:
        stored = store.read(mirror_state_key(survey))
    except NotFound:
        return SurveyState(survey), None
    return SurveyState.from_json(survey, stored.body), stored.etag


def save_state(store: Store, state: SurveyState, etag: str | None) -> str:
    """Write the state only if nobody else wrote it since it was read (PreconditionFailed otherwise)."""
    return store.put(
        mirror_state_key(state.survey),
        state.to_json(),
        content_type="application/json",
        if_none_match=etag is None,
        if_match=etag,
    )


def stored_survey_names(store: Store) -> list[str]:
    """The surveys that have a saved state (one LIST of `bls/`), by name."""
    return sorted(survey for info in store.list(BLS_PREFIX) if (survey := survey_of_state_key(info.key)))


def list_states(store: Store) -> list[SurveyState]:
    """Every saved survey state, by survey name (one LIST of `bls/`, one read per survey)."""
    states = []
    for info in store.list(BLS_PREFIX):
        if (survey := survey_of_state_key(info.key)) is not None:
            states.append(SurveyState.from_json(survey, store.read(info.key).body))
    return sorted(states, key=lambda state: state.survey)


__all__ = [
    "FileRecord", "StoredSurvey", "SurveyState", "list_states", "load_state", "read_stored_survey", "save_state",
    "stored_survey_names",
    "sync_fingerprint",
]
