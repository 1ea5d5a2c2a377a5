"""S3 event notifications for the report inputs: THE definitions, used by CDK and the local run.

The reports read exactly two objects: the population JSON and one BLS data file
(`settings.report_data_key`). A write of either must run the reports again, a
write of anything else must not. This module says which keys those are (as S3
notification filters: prefix + suffix), builds the S3-event message S3 would
send for a write, and turns an SQS message body back into the records that
matter. The CDK stack, the local hand-off and `run` on an S3 emulator all use
these same definitions, so they cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event, S3EventRecord

from chalicelib.core.errors import PipelineError
from chalicelib.core.layout import LAKE_SOURCE_PREFIXES, POPULATION_KEY
from chalicelib.core.settings import Settings
from chalicelib.core.store import Store

LOCAL_BUCKET = "local-store"  # the bucket name in messages made for a local-folder store
TEST_EVENT = "s3:TestEvent"
OBJECT_CREATED = "s3:ObjectCreated:*"


def store_location(store: Store) -> tuple[str, str]:
    """(bucket, key prefix) under which the store's objects appear in S3 events.

    An S3 store (or a wrapper of one) has its bucket and prefix; a local folder appears as
    LOCAL_BUCKET with no prefix.
    """
    location = store.location
    return (location.bucket, location.prefix) if location.bucket else (LOCAL_BUCKET, "")


class EventError(PipelineError):
    """A queue message that is not an S3 event notification (it cannot be processed)."""


@dataclass(frozen=True)
class NotificationFilter:
    """One report input as an S3 key filter: `prefix` is the whole key, `suffix` its file name.

    S3 filters cannot say "this exact key"; prefix = the key and suffix = its file
    name come closest (a sibling such as `population.json.bak` does not pass), and
    `matches` is exact, so the rare key that passes S3's filter without being the
    input (`population/population.json.old/population.json`) is still ignored.
    """

    name: str
    prefix: str
    suffix: str
    whole_prefix: bool = False  # every key under `prefix` (the silver layer's inputs), not one key

    def matches(self, full_key: str) -> bool:
        """True if `full_key` (bucket-level) is exactly this input (or under it, for `whole_prefix`)."""
        return full_key.startswith(self.prefix) if self.whole_prefix else full_key == self.prefix

    def rules(self) -> list[dict[str, str]]:
        """The prefix and suffix rules, as both S3 notification shapes spell them."""
        return [{"Name": "prefix", "Value": self.prefix}, {"Name": "suffix", "Value": self.suffix}]


def report_inputs(settings: Settings) -> tuple[str, ...]:
    """The store keys the reports read: the population JSON and the BLS data file."""
    return (POPULATION_KEY, settings.report_data_key)


def notification_filters(settings: Settings, store_prefix: str = "") -> tuple[NotificationFilter, ...]:
    """The ObjectCreated filters for the report inputs, under the store's key prefix."""
    base = f"{store_prefix.strip('/')}/" if store_prefix.strip("/") else ""
    filters = []
    for key in report_inputs(settings):
        name = key.rsplit("/", 1)[-1]
        filters.append(NotificationFilter(_filter_id(key), base + key, name))
    return tuple(filters)


def lake_filters(store_prefix: str = "") -> tuple[NotificationFilter, ...]:
    """The silver layer's inputs (created or removed): every key under `bls/`, and the population JSON.

    In AWS these become EventBridge rule patterns (S3 notification configurations may not
    overlap the report inputs' ones); locally the hand-off turns matching writes and
    deletes into messages. `chalicelib.lake.tables` then picks the keys that feed a table.
    """
    base = f"{store_prefix.strip('/')}/" if store_prefix.strip("/") else ""
    return tuple(
        NotificationFilter(_filter_id(key, "lake-input"), base + key,
                           "" if key.endswith("/") else key.rsplit("/", 1)[-1], whole_prefix=key.endswith("/"))
        for key in LAKE_SOURCE_PREFIXES
    )


def _filter_id(key: str, kind: str = "report-input") -> str:
    """A stable notification id for a key (S3 shows it as `configurationId`)."""
    cleaned = "".join(c if c.isalnum() else "-" for c in key).strip("-")
    return f"{kind}-{cleaned}"[:255]


# --------------------------------------------------------------------------- configuration shapes


def cloudformation_queue_configurations(
    filters: Iterable[NotificationFilter], queue_arn: str
) -> list[dict[str, Any]]:
    """`AWS::S3::Bucket` `NotificationConfiguration.QueueConfigurations` for the filters."""
    return [
        {
            "Event": OBJECT_CREATED,
            "Queue": queue_arn,
            "Filter": {"S3Key": {"Rules": f.rules()}},
        }
        for f in filters
    ]


def api_queue_configurations(filters: Iterable[NotificationFilter], queue_arn: str) -> list[dict[str, Any]]:
    """`PutBucketNotificationConfiguration` `QueueConfigurations` (the S3 API shape) for the filters."""
    return [
        {
            "Id": f.name,
            "QueueArn": queue_arn,
            "Events": [OBJECT_CREATED],
            "Filter": {"Key": {"FilterRules": f.rules()}},
        }
        for f in filters
    ]


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class S3Record:
    """One ObjectCreated record of an S3 event, with the key relative to the store."""

    bucket: str
    key: str
    event_name: str
    etag: str
    size: int
    sequencer: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (for logs and `--json`)."""
        return {"bucket": self.bucket, "key": self.key, "event": self.event_name, "etag": self.etag,
                "size": self.size}


def build_message(
    bucket: str,
    full_key: str,
    *,
    etag: str,
    size: int,
    event_name: str = "ObjectCreated:Put",
    configuration_id: str = "",
    region: str = "us-east-1",
    when: datetime | None = None,
    sequencer: str = "",
) -> str:
    """The SQS message body S3 sends for one object write (event format 2.1, key URL-encoded)."""
    when = when or datetime.now(UTC)
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "local"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "local", "x-amz-id-2": "local"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "local"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {
                "key": quote_plus(full_key, safe="/"),
                "size": size,
                "eTag": etag,
                "sequencer": sequencer or f"{int(when.timestamp() * 1_000_000):016X}",
            },
        },
    }
    return json.dumps({"Records": [record]}, separators=(",", ":"))


def parse_message(
    body: str | bytes | Mapping[str, Any],
    filters: Iterable[NotificationFilter],
    *,
    bucket: str | None = None,
    store_prefix: str = "",
) -> list[S3Record]:
    """The ObjectCreated records of an SQS message body that concern the report inputs.

    An `s3:TestEvent` (sent when a notification is configured) gives no records.
    Keys are URL-decoded (`unquote_plus`, as S3 encodes them) and made relative to
    `store_prefix`. Records of another bucket (when `bucket` is given), of other
    event types, or of keys outside the filters are ignored. A body that is not an
    S3 event raises EventError: such a message must fail, not vanish. The records are
    read through Powertools' `S3Event` data class.
    """
    event = S3Event(dict(load_body(body)))
    if event.get("Event") == TEST_EVENT:
        return []
    if not isinstance(event.get("Records"), list):
        raise EventError(f"not an S3 event notification: no 'Records' list (keys: {sorted(event)[:8]})")
    filters = tuple(filters)
    base = f"{store_prefix.strip('/')}/" if store_prefix.strip("/") else ""
    created = (_object_created(record) for record in event.records)
    return [
        replace(record, key=record.key[len(base):])
        for record in created
        if record is not None
        and (bucket is None or record.bucket == bucket)
        and any(f.matches(record.key) for f in filters)
        and record.key.startswith(base)
    ]


def _object_created(record: S3EventRecord) -> S3Record | None:
    """An ObjectCreated record of S3 with its bucket-level key decoded; None for other events."""
    try:
        source = record.get("eventSource")
        event_name = str(record.event_name)
        record_bucket = record.s3.bucket.name
        obj = record.s3.get_object
        full_key = unquote_plus(obj.key)
    except (AttributeError, KeyError, TypeError) as error:
        raise EventError(f"malformed S3 event record: missing {error}") from None
    if source != "aws:s3" or not event_name.startswith("ObjectCreated:"):
        return None
    return S3Record(
        bucket=record_bucket,
        key=full_key,
        event_name=event_name,
        etag=str(obj.etag).strip('"'),
        size=int(obj.get("size", 0) or 0),
        sequencer=str(obj.get("sequencer", "")),
    )


def is_test_event(body: str | bytes | Mapping[str, Any]) -> bool:
    """True for the `s3:TestEvent` message S3 sends when a notification is configured."""
    try:
        return load_body(body).get("Event") == TEST_EVENT
    except EventError:
        return False


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
