"""The mirror as the dashboard and /api/status show it: a read model of the saved survey states."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from chalicelib.core.store import Store
from chalicelib.mirror.state import list_states


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
    """One mirrored survey as the dashboard and /api/status show it (from its saved state).

    `files` is None unless asked for: a summary per survey keeps 65 surveys small.
    """

    survey: str
    source_url: str
    last_sync: str | None
    last_change: str | None
    file_count: int
    bytes: int
    files: list[MirroredFile] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (/api/status `surveys`); `files` only when listed."""
        document = asdict(self)
        if self.files is None:
            del document["files"]
        return document


def mirror_status(store: Store, files_of: Iterable[str] | str = "all") -> list[SurveyStatus]:
    """Every mirrored survey (for the dashboard), from the saved states; the file list (by name)
    only for the surveys in `files_of` ("all": every survey)."""
    wanted = files_of if isinstance(files_of, str) else frozenset(files_of)
    result = []
    for state in list_states(store):
        records = sorted(state.files.values(), key=lambda r: r.name)
        files = [MirroredFile(r.name, r.key, r.size, r.sha256, r.last_modified) for r in records]
        listed = wanted == "all" or state.survey in wanted
        result.append(SurveyStatus(state.survey, state.source_url, state.last_sync, state.last_change,
                                   len(records), sum(r.size for r in records), files if listed else None))
    return result


__all__ = ["MirroredFile", "SurveyStatus", "mirror_status"]
