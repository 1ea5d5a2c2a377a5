"""The mirror's saved state: what each mirrored file is, per survey, at `_state/mirror/<survey>.json`.

The state is written only after the files it describes are stored, and with a
conditional write (create-only, or if-match on the ETag read), so two runs at
the same time cannot silently overwrite each other's bookkeeping.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib.errors import NotFound, StoreError
from chalicelib.store import Store

STATE_PREFIX = "_state/mirror/"
STATE_VERSION = 1


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
                f"the mirror state {state_key(survey)} is damaged ({error}); delete it to rebuild it "
                "(the next run then re-downloads and compares every file)"
            ) from None


def state_key(survey: str) -> str:
    """Where a survey's state is stored."""
    return f"{STATE_PREFIX}{survey}.json"


def load_state(store: Store, survey: str) -> tuple[SurveyState, str | None]:
    """The saved state and its ETag; an empty state and None if there is none yet."""
    try:
        stored = store.read(state_key(survey))
    except NotFound:
        return SurveyState(survey), None
    return SurveyState.from_json(survey, stored.body), stored.etag


def save_state(store: Store, state: SurveyState, etag: str | None) -> str:
    """Write the state only if nobody else wrote it since it was read (PreconditionFailed otherwise)."""
    return store.put(
        state_key(state.survey),
        state.to_json(),
        content_type="application/json",
        if_none_match=etag is None,
        if_match=etag,
    )


def list_states(store: Store) -> list[SurveyState]:
    """Every saved survey state, by survey name."""
    states = []
    for info in store.list(STATE_PREFIX):
        name = info.key[len(STATE_PREFIX):]
        if name.endswith(".json") and "/" not in name:
            survey = name[: -len(".json")]
            states.append(SurveyState.from_json(survey, store.read(info.key).body))
    return sorted(states, key=lambda state: state.survey)


__all__ = ["FileRecord", "STATE_PREFIX", "SurveyState", "list_states", "load_state", "save_state", "state_key"]
