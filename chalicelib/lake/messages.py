"""Queue messages naming bronze objects that changed → the silver layer brought in step.

Two message shapes name a changed object; both are accepted:
- an S3 event notification (`Records[].s3.object.key`, URL-encoded; ObjectCreated/ObjectRemoved):
  what the local hand-off and S3 emulators send;
- an EventBridge event from S3 (`detail-type` "Object Created"/"Object Deleted",
  `detail.object.key`, not encoded): what the lake queue gets in AWS (S3 notification
  configurations may not overlap, and the report inputs already have one under `bls/`).
Only the key matters: `chalicelib.lake.sync.sync_source` looks at the object's current state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.core.log import log_event
from chalicelib.core.store import Store
from chalicelib.lake import tables
from chalicelib.lake.sync import Catalog, sync_source
from chalicelib.pipeline import events

EVENTBRIDGE_TYPES = ("Object Created", "Object Deleted")


@dataclass
class LakeMessageResult:
    """The outcome of one message: `action` `written` if any partition changed, else `unchanged`/`skipped`."""

    action: str
    keys: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "keys": list(self.keys), "results": list(self.results)}


def changed_keys(body: str | bytes | dict[str, Any], *, bucket: str, store_prefix: str = "") -> list[str]:
    """Store-relative keys of the objects a message names (in this bucket, under the store's prefix)."""
    from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent

    document = dict(events.load_body(body))
    if document.get("Event") == events.TEST_EVENT:
        return []
    try:
        if document.get("source") == "aws.s3" and "detail" in document:
            event = S3EventBridgeNotificationEvent(document)
            found = ([(event.detail.bucket.name, event.detail.object.key)]
                     if event.detail_type in EVENTBRIDGE_TYPES else [])
        elif isinstance(document.get("Records"), list):
            found = [(record.s3.bucket.name, unquote_plus(record.s3.get_object.key))
                     for record in S3Event(document).records
                     if record.get("eventSource") == "aws:s3"
                     and str(record.event_name).startswith(("ObjectCreated:", "ObjectRemoved:"))]
        else:
            raise events.EventError(f"neither an S3 event notification nor an EventBridge S3 event "
                                    f"(keys: {sorted(document)[:8]})")
    except (AttributeError, KeyError, TypeError) as error:
        raise events.EventError(f"malformed S3 event: missing {error}") from None
    base = f"{store_prefix.strip('/')}/" if store_prefix.strip("/") else ""
    keys = [key[len(base):] for name, key in found if name == bucket and key.startswith(base)]
    return list(dict.fromkeys(keys))


def handle_lake_message(body: str | bytes | dict[str, Any], store: Store, *, catalog: Catalog | None = None,
                        tmp_dir: str | None = None) -> LakeMessageResult:
    """Sync the partition of every source the message names; raises LakeFailed (the message is retried)."""
    bucket, prefix = events.store_location(store)
    keys = [k for k in changed_keys(body, bucket=bucket, store_prefix=prefix) if tables.partition_for_source(k)]
    if not keys:
        log_event("lake_skipped", reason="no silver-layer source in the message")
        return LakeMessageResult("skipped")
    results = []
    for key in keys:
        results.append(sync_source(store, key, catalog=catalog, tmp_dir=tmp_dir).to_dict())
    changed = any(r["action"] in ("written", "deleted") for r in results)
    return LakeMessageResult("written" if changed else "unchanged", keys, results)


__all__ = ["LakeMessageResult", "changed_keys", "handle_lake_message"]
