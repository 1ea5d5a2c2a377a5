"""The S3 store: objects in a bucket under an optional key prefix (any S3-compatible endpoint).

A body of known length (bytes, or a file on disk up to SINGLE_PUT_MAX) is one streamed
PUT; anything else is written part by part (`multipart.py`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator
from typing import IO, Any, BinaryIO

from chalicelib.core.errors import StoreError
from chalicelib.core.store.base import (
    ObjectHead,
    ObjectInfo,
    Store,
    StoredObject,
    StoreLocation,
    check_metadata,
    validate_key,
    validate_prefix,
)
from chalicelib.core.store.bodies import copy_into
from chalicelib.core.store.multipart import S3Upload
from chalicelib.core.store.s3_requests import (
    s3_call,
    sha256_checksum,
    stripped_etag,
    write_conditions,
)

# S3 multipart part size (S3 needs >= 5 MiB): a body up to one part is one PUT. One part per
# transfer is spooled, so TMPDIR holds at most concurrency x PART_SIZE (4 x 64 MiB = 256 MiB).
PART_SIZE = 64 * 1024 * 1024
SPOOL_MEMORY = 1024 * 1024  # a part up to this size stays in memory; a bigger one is a temp file
SINGLE_PUT_MAX = 256 * 1024 * 1024  # a file on disk up to this size is sent in one streamed PUT


class S3Store(Store):
    """Objects in an S3 bucket under an optional prefix (any S3-compatible endpoint).

    The endpoint comes from boto3's own configuration (`AWS_ENDPOINT_URL`,
    `AWS_ENDPOINT_URL_S3`); retries use boto3's standard configuration in adaptive mode.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Any = None, part_size: int = PART_SIZE,
                 spool_memory: int = SPOOL_MEMORY) -> None:
        self.bucket = bucket
        self.part_size = part_size
        self.spool_memory = spool_memory
        self.prefix = prefix.strip("/")
        if self.prefix:
            validate_key(self.prefix)
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = client
        self._client_lock = threading.Lock()

    @property
    def location(self) -> StoreLocation:
        return StoreLocation(self.bucket, self.prefix)

    @property
    def client(self) -> Any:
        """The boto3 S3 client, created on first use."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    self._client = boto3.client(
                        "s3",
                        config=Config(
                            retries={"mode": "adaptive", "max_attempts": 8},
                            max_pool_connections=16,
                            # Integrity comes from the request checksum (and TLS on AWS, where
                            # this is botocore's default); over plain http (local S3) botocore
                            # would otherwise hash every body once more just for the signature.
                            s3={"payload_signing_enabled": False},
                        ),
                    )
        return self._client

    def _full(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    def list(self, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        extra = {"StartAfter": f"{self.prefix}/{start_after}" if self.prefix else start_after} if start_after else {}
        paginator = self.client.get_paginator("list_objects_v2")
        # `paginate` is lazy: the requests (and their errors) happen while the pages are read.
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=full_prefix, **extra))
        while (page := s3_call(next, pages, None, _operation="list_objects_v2", _bucket=self.bucket)) is not None:
            for item in page.get("Contents", []):
                yield ObjectInfo(self._relative(item["Key"]), item["Size"], stripped_etag(item))

    def head(self, key: str) -> ObjectHead:
        response = s3_call(self.client.head_object, Bucket=self.bucket, Key=self._full(key), _key=key)
        return ObjectHead(
            key,
            response["ContentLength"],
            stripped_etag(response),
            {k.lower(): v for k, v in response.get("Metadata", {}).items()},
            response.get("ContentType", "application/octet-stream"),
        )

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        response = s3_call(self.client.get_object, Bucket=self.bucket, Key=self._full(key), _key=key)
        body = response["Body"]
        try:
            yield body
        finally:
            body.close()

    def read(self, key: str) -> StoredObject:
        response = s3_call(self.client.get_object, Bucket=self.bucket, Key=self._full(key), _key=key)
        with contextlib.closing(response["Body"]) as body:
            data = body.read()
        metadata = {k.lower(): v for k, v in response.get("Metadata", {}).items()}
        return StoredObject(key, data, stripped_etag(response), metadata)

    def put(
        self,
        key: str,
        body: bytes | IO[bytes],
        *,
        metadata: dict[str, str] | None = None,
        content_type: str = "application/octet-stream",
        if_none_match: bool = False,
        if_match: str | None = None,
        sha256: str | None = None,
    ) -> str:
        full = self._full(key)
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": full,
            "Metadata": check_metadata(metadata),
            "ContentType": content_type,
        }
        conditions = write_conditions(if_none_match, if_match)
        if isinstance(body, (bytes, bytearray, memoryview)):
            body = bytes(body)
        elif (size := _file_size(body)) is None or size > SINGLE_PUT_MAX:
            # A stream of unknown length, or a big file: parts of `part_size`, one spooled at a time.
            with self.upload(key, metadata=metadata, content_type=content_type) as upload:
                copy_into(upload, body)
                return upload.commit(sha256, if_none_match=if_none_match, if_match=if_match)
        # Bytes, or a file on disk of known length: one streamed PUT (botocore reads it in chunks,
        # memory stays flat); fewer requests than parts, and no server-side reassembly.
        response = s3_call(self.client.put_object, Body=body, _key=key, **args, **conditions,
                           **sha256_checksum(sha256))
        return stripped_etag(response)

    def begin_upload(self, key: str, *, metadata: dict[str, str] | None = None,
                     content_type: str = "application/octet-stream") -> S3Upload:
        args = {"Bucket": self.bucket, "Key": self._full(key), "Metadata": check_metadata(metadata),
                "ContentType": content_type}
        return S3Upload(self, key, args)

    def delete_many(self, keys: Iterable[str]) -> None:
        full = [self._full(key) for key in keys]
        for start in range(0, len(full), 1000):
            batch = full[start : start + 1000]
            response = s3_call(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
            if errors := response.get("Errors"):
                detail = ", ".join(f"{e['Key']}: {e.get('Code')}" for e in errors[:5])
                raise StoreError(f"could not delete {len(errors)} object(s) from {self.url}: {detail}")


def _file_size(body: IO[bytes]) -> int | None:
    """Bytes left in `body` if it is a real file (has a descriptor and can seek), else None."""
    try:
        body.fileno()
        position = body.tell()
        end = body.seek(0, os.SEEK_END)
        body.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return end - position

