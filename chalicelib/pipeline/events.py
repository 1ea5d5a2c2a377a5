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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from chalicelib.core.layout import LAKE_SOURCE_PREFIXES, POPULATION_KEY
from chalicelib.core.s3_events import S3Record, in_store, key_base, parse_event
from chalicelib.core.settings import Settings

OBJECT_CREATED = "s3:ObjectCreated:*"


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
    base = key_base(store_prefix)
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
    base = key_base(store_prefix)
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
    S3 event raises `chalicelib.core.s3_events.EventError`: such a message must fail, not
    vanish. The parsing is `chalicelib.core.s3_events.parse_event`'s.
    """
    filters = tuple(filters)
    created = [record for record in parse_event(body)
               if record.created and any(f.matches(record.key) for f in filters)]
    return in_store(created, bucket=bucket, store_prefix=store_prefix)


__all__ = [
    "OBJECT_CREATED", "NotificationFilter", "api_queue_configurations", "build_message",
    "cloudformation_queue_configurations", "lake_filters", "notification_filters", "parse_message", "report_inputs",
]
