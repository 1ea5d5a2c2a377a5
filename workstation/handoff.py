"""How S3-event messages reach the analysis outside Lambda.

- `NotifyingStore` (a local folder, or S3 without an emulator): wraps the store; each
  successful write of a report input produces the S3-event message S3 would send
  (`chalicelib.pipeline.events.build_message`), handed to a sink in write order; writes
  and deletes of the silver layer's inputs (`events.lake_filters`) go to a second sink.
- `QueueHandOff` (S3 + SQS emulator: moto server, LocalStack): the real thing — a queue,
  the bucket's notification configuration from `chalicelib.pipeline.events`, and draining.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from chalicelib.core.errors import PipelineError
from chalicelib.core.log import log_event
from chalicelib.core.s3_events import store_location
from chalicelib.core.settings import Settings
from chalicelib.core.store import ObjectHead, ObjectInfo, Store, StoredObject, StoreLocation, Upload
from chalicelib.pipeline import events
from chalicelib.pipeline.analysis import AnalysisResult

# --------------------------------------------------------------------------- local hand-off


class NotifyingStore(Store):
    """A store that reports each successful write of a report input as an S3-event message.

    Everything else is delegated unchanged; `sink` receives the message bodies
    (in write order) exactly as S3 would send them to the queue.
    """

    def __init__(self, inner: Store, filters: Iterable[events.NotificationFilter],
                 sink: Callable[[str], None], bucket: str, prefix: str = "",
                 lake_sink: Callable[[str], None] | None = None) -> None:
        self.inner = inner
        self.lake_sink = lake_sink
        self.lake_filters = events.lake_filters(prefix)
        self.url = inner.url
        self.filters = tuple(filters)
        self.sink = sink
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._lock = threading.Lock()

    @classmethod
    def around(cls, inner: Store, settings: Settings, sink: Callable[[str], None],
               lake_sink: Callable[[str], None] | None = None) -> NotifyingStore:
        """Wrap `inner`, with the filters of `settings` under the store's own bucket and prefix."""
        bucket, prefix = store_location(inner)
        return cls(inner, events.notification_filters(settings, prefix), sink, bucket, prefix, lake_sink)

    @property
    def location(self) -> StoreLocation:
        return self.inner.location

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def list(self, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        return self.inner.list(prefix, start_after=start_after)

    def head(self, key: str) -> ObjectHead:
        return self.inner.head(key)

    def open(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self.inner.open(key)

    def read(self, key: str) -> StoredObject:
        return self.inner.read(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self.inner.delete_many(keys)
        for key in keys:
            self._notify_lake(key, "ObjectRemoved:Delete", "", 0)

    def _notify_lake(self, key: str, event_name: str, etag: str, size: int | None = None) -> None:
        full = self._full(key)
        matched = next((f for f in self.lake_filters if f.matches(full)), None)
        if self.lake_sink is not None and matched is not None:
            size = self.inner.head(key).size if size is None else size
            message = events.build_message(self.bucket, full, etag=etag, size=size, event_name=event_name,
                                           configuration_id=matched.name)
            with self._lock:
                self.lake_sink(message)

    def put(self, key: str, body: bytes | IO[bytes], **kwargs: Any) -> str:
        etag = self.inner.put(key, body, **kwargs)
        self._notify(key, etag)
        return etag

    def begin_upload(self, key: str, **kwargs: Any) -> Upload:
        return _NotifyingUpload(self, key, self.inner.begin_upload(key, **kwargs))

    def _notify(self, key: str, etag: str) -> None:
        """Send the S3-event messages of a finished write: to the analysis if the key is a report
        input, to the lake if it is a lake source."""
        full = self._full(key)
        matched = next((f for f in self.filters if f.matches(full)), None)
        if matched is not None:
            size = self.inner.head(key).size
            message = events.build_message(self.bucket, full, etag=etag, size=size, configuration_id=matched.name)
            with self._lock:
                self.sink(message)
            log_event("notification_sent", key=key, etag=etag)
        self._notify_lake(key, "ObjectCreated:Put", etag)


class _NotifyingUpload(Upload):
    """A streaming write whose commit is notified like a `put`."""

    def __init__(self, store: NotifyingStore, key: str, inner: Upload) -> None:
        self.store, self.key, self.inner = store, key, inner

    def write(self, chunk: bytes) -> None:
        self.inner.write(chunk)

    def commit(self, sha256: str | None = None, **conditions: Any) -> str:
        etag = self.inner.commit(sha256, **conditions)
        self.store._notify(self.key, etag)
        return etag

    def abort(self) -> None:
        self.inner.abort()


# --------------------------------------------------------------------------- S3 + SQS emulator


def emulator_endpoints() -> tuple[str, str] | None:
    """(S3 endpoint, SQS endpoint) when both are configured for boto3 (an emulator), else None."""
    common = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    s3 = os.environ.get("AWS_ENDPOINT_URL_S3", "").strip() or common
    sqs = os.environ.get("AWS_ENDPOINT_URL_SQS", "").strip() or common
    return (s3, sqs) if s3 and sqs else None


class QueueHandOff:
    """The real S3 → SQS notification on an emulator: queue, notification config, draining."""

    def __init__(self, s3: Any, sqs: Any, bucket: str, filters: Iterable[events.NotificationFilter],
                 queue_name: str) -> None:
        self.s3 = s3
        self.sqs = sqs
        self.bucket = bucket
        self.filters = tuple(filters)
        self.queue_name = queue_name
        self.queue_url = ""
        self.queue_arn = ""

    def setup(self) -> bool:
        """Create the queue if needed and configure the notifications; True if the config changed."""
        self.queue_url = self.sqs.create_queue(QueueName=self.queue_name)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        # What S3 needs on real AWS and LocalStack (moto does not check it).
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "AllowS3ReportInputNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": self.queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{self.bucket}"}},
            }],
        }
        self.sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(policy)})
        current = self.s3.get_bucket_notification_configuration(Bucket=self.bucket)
        current.pop("ResponseMetadata", None)
        ours = events.api_queue_configurations(self.filters, self.queue_arn)
        ids = {c["Id"] for c in ours}
        existing = [c for c in current.get("QueueConfigurations", []) if c.get("Id") in ids]
        if _normalized(existing) == _normalized(ours):
            return False
        # Keep whatever else the bucket notifies (topics, functions, EventBridge, whose `{}` means "on").
        desired = {k: v for k, v in current.items()
                   if k != "QueueConfigurations" and (v or k == "EventBridgeConfiguration")}
        desired["QueueConfigurations"] = [
            c for c in current.get("QueueConfigurations", []) if c.get("Id") not in ids
        ] + ours
        self.s3.put_bucket_notification_configuration(Bucket=self.bucket, NotificationConfiguration=desired)
        log_event("notifications_configured", bucket=self.bucket, queue=self.queue_arn,
                  filters=[f.prefix for f in self.filters])
        return True

    def drain(self, handle: Callable[[str], Any], wait_seconds: int = 1,
              visibility_timeout: int = 300) -> list[MessageOutcome]:
        """Receive until the queue is empty; delete each message its handler processed.

        `handle(body)` returns a result with `to_dict()` or raises PipelineError.
        A message whose handling fails stays in the queue (visible again after the
        visibility timeout), as with the Lambda event source.
        """
        handled: list[MessageOutcome] = []
        seen: set[str] = set()
        while True:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_timeout,
            )
            messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not messages:
                return handled
            for message in messages:
                seen.add(message["MessageId"])
                entry = handle_message(handle, message["MessageId"], message["Body"])
                if entry.ok:
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                handled.append(entry)


@dataclass(frozen=True)
class MessageOutcome:
    """What the analysis did with one hand-off message: its result, or the error that stopped it."""

    message_id: str
    analysis: AnalysisResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True unless the analysis failed (the message would be retried)."""
        return self.error is None

    @property
    def action(self) -> str:
        """The analysis' action, or `failed`."""
        return self.analysis.action if self.analysis is not None else "failed"

    def to_dict(self) -> dict[str, Any]:
        """`{"message_id", **analysis.to_dict()}`, or `{"message_id", "action": "failed", "error"}`."""
        if self.analysis is None:
            return {"message_id": self.message_id, "action": "failed", "error": self.error}
        return {"message_id": self.message_id, **self.analysis.to_dict()}


def handle_message(handle: Callable[[str], AnalysisResult], message_id: str, body: str) -> MessageOutcome:
    """`handle(body)` as one entry of a run's account: its analysis, or the error that stopped it."""
    try:
        return MessageOutcome(message_id, handle(body))
    except PipelineError as error:
        return MessageOutcome(message_id, error=str(error))


def _normalized(configs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    out = []
    for c in configs:
        rules = c.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        out.append((
            c.get("Id"), c.get("QueueArn"), tuple(sorted(c.get("Events", []))),
            tuple(sorted((r["Name"].lower(), r["Value"]) for r in rules)),
        ))
    return sorted(out)
