"""The S3-event vocabulary: queue message bodies that name changed objects, parsed once.

Two shapes name a changed object:
- an S3 event notification (`Records[].s3.object.key`, URL-encoded with `quote_plus`): what S3
  sends to the analysis queue, and what the local hand-off and S3 emulators send;
- an EventBridge event from S3 (`detail-type` "Object Created"/"Object Deleted",
  `detail.object.key`): what the lake queue gets in AWS.
`s3:TestEvent` (sent when a notification is configured) names nothing. A body that is neither
raises `EventError`: such a message must fail (and end in the dead-letter queue), not vanish.
The records are read through Powertools' data classes. Which keys matter is the caller's
business (`chalicelib.pipeline.events` for the report inputs, `chalicelib.lake.messages` for
the silver layer's sources).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes.s3_event import (
    S3Event,
    S3EventBridgeNotificationEvent,
    S3EventRecord,
)

from chalicelib.core.errors import PipelineError
from chalicelib.core.store import Store

LOCAL_BUCKET = "local-store"  # the bucket name in messages made for a local-folder store
TEST_EVENT = "s3:TestEvent"
NOTIFICATION_SOURCE = "aws:s3"  # `eventSource` of a notification record
EVENTBRIDGE_SOURCE = "aws.s3"  # `source` of an EventBridge event from S3
CREATED = "ObjectCreated:"  # prefix of a notification record's `eventName` (ObjectCreated:Put, ...)
REMOVED = "ObjectRemoved:"
EVENTBRIDGE_CREATED = "Object Created"  # EventBridge `detail-type`s
EVENTBRIDGE_DELETED = "Object Deleted"
EVENTBRIDGE_TYPES = (EVENTBRIDGE_CREATED, EVENTBRIDGE_DELETED)


class EventError(PipelineError):
    """A queue message that is not an S3 event notification (it cannot be processed)."""


@dataclass(frozen=True)
class S3Record:
    """One object event: bucket, decoded key (bucket-level, or store-relative after `in_store`), event name.

    `event_name` is a notification's `eventName` (`ObjectCreated:Put`) or an EventBridge
    `detail-type` (`Object Created`).
    """

    bucket: str
    key: str
    event_name: str
    etag: str
    size: int
    sequencer: str

    @property
    def created(self) -> bool:
        """True for an object written (any ObjectCreated event)."""
        return self.event_name.startswith(CREATED) or self.event_name == EVENTBRIDGE_CREATED

    @property
    def removed(self) -> bool:
        """True for an object deleted (any ObjectRemoved event)."""
        return self.event_name.startswith(REMOVED) or self.event_name == EVENTBRIDGE_DELETED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (for logs and `--json`)."""
        return {"bucket": self.bucket, "key": self.key, "event": self.event_name, "etag": self.etag,
                "size": self.size}


def store_location(store: Store) -> tuple[str, str]:
    """(bucket, key prefix) under which the store's objects appear in S3 events.

    An S3 store (or a wrapper of one) has its bucket and prefix; a local folder appears as
    LOCAL_BUCKET with no prefix.
    """
    location = store.location
    return (location.bucket, location.prefix) if location.bucket else (LOCAL_BUCKET, "")


def key_base(store_prefix: str) -> str:
    """The start of every bucket-level key of a store with this prefix ("" or "prefix/")."""
    return f"{store_prefix.strip('/')}/" if store_prefix.strip("/") else ""


def load_body(body: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    """A queue message body as a JSON object; EventError if it is not one."""
    if isinstance(body, Mapping):
        return body
    try:
        document = json.loads(body)
    except (TypeError, ValueError) as error:
        raise EventError(f"message body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise EventError(f"message body is JSON but not an object: {type(document).__name__}")
    return document


def is_test_event(body: str | bytes | Mapping[str, Any]) -> bool:
    """True for the `s3:TestEvent` message S3 sends when a notification is configured."""
    try:
        return load_body(body).get("Event") == TEST_EVENT
    except EventError:
        return False


def parse_event(body: str | bytes | Mapping[str, Any], *, eventbridge: bool = False) -> list[S3Record]:
    """The S3 object records of a message body, keys decoded (bucket-level); [] for the test event.

    Notification records of another `eventSource` are left out. With `eventbridge`, an
    EventBridge event from S3 is accepted too (one record). EventError for a body that is
    not such an event, or a record without the fields every S3 record has.
    """
    document = dict(load_body(body))
    if document.get("Event") == TEST_EVENT:
        return []
    if eventbridge and document.get("source") == EVENTBRIDGE_SOURCE and "detail" in document:
        return [_eventbridge_record(S3EventBridgeNotificationEvent(document))]
    if not isinstance(document.get("Records"), list):
        shape = ("neither an S3 event notification nor an EventBridge S3 event" if eventbridge
                 else "not an S3 event notification: no 'Records' list")
        raise EventError(f"{shape} (keys: {sorted(document)[:8]})")
    records = (_notification_record(record) for record in S3Event(document).records)
    return [record for record in records if record is not None]


def in_store(records: Iterable[S3Record], *, bucket: str | None, store_prefix: str = "") -> list[S3Record]:
    """The records of `bucket` (any bucket if None) under `store_prefix`, keys made relative to it."""
    base = key_base(store_prefix)
    return [replace(record, key=record.key[len(base):]) for record in records
            if (bucket is None or record.bucket == bucket) and record.key.startswith(base)]


def _notification_record(record: S3EventRecord) -> S3Record | None:
    """A notification record with its key decoded (`unquote_plus`, as S3 encodes it); None if not from S3."""
    try:
        source = record.get("eventSource")
        event_name = str(record.event_name)
        bucket = record.s3.bucket.name
        obj = record.s3.get_object
        key = unquote_plus(obj.key)
    except (AttributeError, KeyError, TypeError) as error:
        raise EventError(f"malformed S3 event record: missing {error}") from None
    if source != NOTIFICATION_SOURCE:
        return None
    return S3Record(bucket=bucket, key=key, event_name=event_name, etag=str(obj.etag).strip('"'),
                    size=int(obj.get("size", 0) or 0), sequencer=str(obj.get("sequencer", "")))


def _eventbridge_record(event: S3EventBridgeNotificationEvent) -> S3Record:
    """The one object an EventBridge S3 event names (Powertools decodes its key)."""
    try:
        detail = event.detail
        obj = detail.object
        return S3Record(bucket=detail.bucket.name, key=obj.key, event_name=str(event.detail_type),
                        etag=str(obj.etag).strip('"'), size=int(obj.get("size", 0) or 0),
                        sequencer=str(obj.get("sequencer", "")))
    except (AttributeError, KeyError, TypeError) as error:
        raise EventError(f"malformed S3 event record: missing {error}") from None


__all__ = [
    "CREATED", "EVENTBRIDGE_TYPES", "LOCAL_BUCKET", "REMOVED", "TEST_EVENT", "EventError", "S3Record",
    "in_store", "is_test_event", "key_base", "load_body", "parse_event", "store_location",
]
