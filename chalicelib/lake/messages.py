"""Queue messages naming bronze objects that changed → the silver layer brought in step.

Two message shapes name a changed object; both are accepted:
- an S3 event notification (`Records[].s3.object.key`, URL-encoded; ObjectCreated/ObjectRemoved):
  what the local hand-off and S3 emulators send;
- an EventBridge event from S3 (`detail-type` "Object Created"/"Object Deleted",
  `detail.object.key`, not encoded): what the lake queue gets in AWS (S3 notification
  configurations may not overlap, and the report inputs already have one under `bls/`).
Both are parsed by `chalicelib.core.s3_events`. Only the key matters:
`chalicelib.lake.sync.sync_source` looks at the object's current state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.log import log_event
from chalicelib.core.s3_events import in_store, parse_event, store_location
from chalicelib.core.store import Store
from chalicelib.lake import tables
from chalicelib.lake.sync import Catalog, LakeResult, sync_source


@dataclass
class LakeMessageResult:
    """The outcome of one message: `action` `written` if any partition changed, else `unchanged`/`skipped`."""

    action: str
    keys: list[str] = field(default_factory=list)
    results: list[LakeResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "keys": list(self.keys), "results": [r.to_dict() for r in self.results]}


def changed_keys(body: str | bytes | dict[str, Any], *, bucket: str, store_prefix: str = "") -> list[str]:
    """Store-relative keys of the objects created or removed that a message names (in this bucket, under
    the store's prefix), each once. EventError (`chalicelib.core.s3_events`) if it is not an S3 event."""
    named = [record for record in parse_event(body, eventbridge=True) if record.created or record.removed]
    return list(dict.fromkeys(record.key for record in in_store(named, bucket=bucket, store_prefix=store_prefix)))


def handle_lake_message(body: str | bytes | dict[str, Any], store: Store, *, catalog: Catalog | None = None,
                        tmp_dir: str | None = None) -> LakeMessageResult:
    """Sync the partition of every source the message names; raises LakeFailed (the message is retried)."""
    bucket, prefix = store_location(store)
    keys = [k for k in changed_keys(body, bucket=bucket, store_prefix=prefix) if tables.partition_for_source(k)]
    if not keys:
        log_event("lake_skipped", reason="no silver-layer source in the message")
        return LakeMessageResult("skipped")
    results = [sync_source(store, key, catalog=catalog, tmp_dir=tmp_dir) for key in keys]
    changed = any(r.action in ("written", "deleted") for r in results)
    return LakeMessageResult("written" if changed else "unchanged", keys, results)


__all__ = ["LakeMessageResult", "changed_keys", "handle_lake_message"]
