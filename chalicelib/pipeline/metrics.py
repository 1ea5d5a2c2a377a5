"""What each Lambda run reports as metrics (chalicelib.core.metrics): results → metric values.

The functions take the JSON-able results the handlers return (`to_dict()` forms), so they do not depend on
the result classes' internals; each returns the values it emitted (for tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.metrics import emit


def _count(value: Any) -> int:
    if isinstance(value, list | tuple):
        return len(value)
    return int(value or 0)


def mirror_values(mirror: Mapping[str, Any] | None) -> dict[str, float]:
    """Files added/updated/deleted/failed, pending, bytes, requests, seconds of one mirror run."""
    if not mirror:
        return {}
    return {
        "FilesAdded": _count(mirror.get("added")),
        "FilesUpdated": _count(mirror.get("updated")),
        "FilesDeleted": _count(mirror.get("deleted")),
        "FilesFailed": _count(mirror.get("failed")),
        "PendingFiles": _count(mirror.get("pending")),
        "BytesDownloaded": _count(mirror.get("bytes_downloaded")),
        "SourceRequests": _count(mirror.get("source_requests")),
        "MirrorSeconds": float(mirror.get("seconds") or 0.0),
    }


def record_ingestion(summary: Mapping[str, Any], *, continuation: bool = False,
                     enabled: bool | None = None) -> dict[str, float]:
    """An ingestion (`IngestionResult.to_dict()`): the mirror's numbers, the population's change."""
    values = mirror_values(summary.get("mirror"))
    population = summary.get("population")
    if population is not None:
        values["PopulationChanged"] = 1 if population.get("changed") else 0
    if continuation:
        values["ContinuationInvocations"] = 1
    emit(values, enabled=enabled)
    return values


def record_run(summary: Mapping[str, Any], *, failed: bool, enabled: bool | None = None) -> dict[str, float]:
    """A mirror run after one invocation (`MirrorRun.summary()`): its invocations so far, the files abandoned
    at an invocation's end (the cost of a slow source), and whether it failed or stopped at a bound."""
    values: dict[str, float] = {"MirrorRunInvocations": _count(summary.get("invocations")),
                                "FilesAbandoned": sum(_count(v) for v in (summary.get("abandoned") or {}).values()),
                                "MirrorRunFailures": 1 if failed else 0}
    emit(values, enabled=enabled)
    return values


def record_analysis(result: Mapping[str, Any], *, enabled: bool | None = None) -> dict[str, float]:
    """An analysis (`AnalysisResult.to_dict()`): reports written, or skipped because nothing changed."""
    action = result.get("action")
    values: dict[str, float] = {"ReportsComputed": _count(result.get("written")) if action == "written" else 0,
                                "ReportsSkipped": 1 if action == "unchanged" else 0}
    emit(values, enabled=enabled)
    return values


def record_lake(result: Mapping[str, Any] | None, *, failed: bool = False,
                enabled: bool | None = None) -> dict[str, float]:
    """A lake message (`LakeMessageResult.to_dict()`), or a failed one."""
    if failed:
        values: dict[str, float] = {"LakeConversions": 0, "LakeFailures": 1}
    else:
        results = list((result or {}).get("results") or [])
        converted = [r for r in results if r.get("action") in ("written", "deleted")]
        values = {"LakeConversions": len(converted), "LakeFailures": 0}
        seconds = sum(float(r.get("seconds") or 0.0) for r in converted)
        if converted:
            values["LakeSeconds"] = seconds
    emit(values, enabled=enabled)
    return values
