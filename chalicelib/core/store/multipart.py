"""A streaming write to S3: one part spooled at a time (`part_size`, in memory up to
`spool_memory`, beyond that in TMPDIR); a single PUT when the body fits one part, else a
multipart upload. Abandoning leaves no object and no open multipart upload."""

from __future__ import annotations

import tempfile
from typing import IO, Any, Protocol

from chalicelib.core.errors import StoreError
from chalicelib.core.store.base import Upload
from chalicelib.core.store.bodies import os_reason
from chalicelib.core.store.s3_requests import (
    s3_call,
    sha256_checksum,
    stripped_etag,
    write_conditions,
)

MAX_PARTS = 10_000  # S3's limit: a streamed object is at most MAX_PARTS x part size


class PartSink(Protocol):
    """What an upload needs from its store (an S3Store)."""

    part_size: int  # bytes per part (S3 needs >= 5 MiB)
    spool_memory: int  # a part up to this size is spooled in memory, a bigger one in TMPDIR

    @property
    def client(self) -> Any:
        """The boto3 S3 client."""


class S3Upload(Upload):
    """One part spooled at a time: a single PUT if the body fits one part, else a multipart upload."""

    def __init__(self, store: PartSink, key: str, args: dict[str, Any]) -> None:
        self.store, self.key, self.args = store, key, args
        self._spool: IO[bytes] | None = None
        self._spooled = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._open = True

    def _call(self, method: Any, **kwargs: Any) -> Any:
        return s3_call(method, _key=self.key, **kwargs)

    def write(self, chunk: bytes) -> None:
        assert self._open, "write after commit or abort"
        if self._spool is None:
            self._spool = tempfile.SpooledTemporaryFile(max_size=self.store.spool_memory)  # noqa: SIM115 - closed by _drop_spool
        try:
            self._spool.write(chunk)
        except OSError as error:  # a full TMPDIR
            raise StoreError(f"cannot spool a part of {self.key!r}: {os_reason(error)}") from None
        self._spooled += len(chunk)
        if self._spooled >= self.store.part_size:
            self._send_part()

    def _body(self) -> dict[str, Any]:
        """The spooled part as a request body (from its start, with its length)."""
        assert self._spool is not None
        self._spool.seek(0)
        return {"Body": self._spool, "ContentLength": self._spooled}

    def _drop_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()
        self._spool, self._spooled = None, 0

    def _send_part(self) -> None:
        if len(self._parts) >= MAX_PARTS:
            raise StoreError(f"{self.key!r}: more than {MAX_PARTS} parts of {self.store.part_size} bytes")
        client = self.store.client
        if self._upload_id is None:
            self._upload_id = self._call(client.create_multipart_upload, **self.args)["UploadId"]
        number = len(self._parts) + 1
        response = self._call(client.upload_part, Bucket=self.args["Bucket"], Key=self.args["Key"],
                              UploadId=self._upload_id, PartNumber=number, **self._body())
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})
        self._drop_spool()

    def commit(self, sha256: str | None = None, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        assert self._open, "commit after commit or abort"
        conditions = write_conditions(if_none_match, if_match)
        if self._upload_id is None:
            response = self._put_whole(sha256, conditions)
        else:
            response = self._complete(conditions)
        self._open = False
        self._drop_spool()
        return stripped_etag(response)

    def _put_whole(self, sha256: str | None, conditions: dict[str, str]) -> Any:
        """The body fitted one part: one PutObject, with the SHA-256 in its metadata."""
        args = self.args | {"Metadata": self.args["Metadata"] | ({"sha256": sha256} if sha256 else {})}
        body = self._body() if self._spool is not None else {"Body": b""}
        return self._call(self.store.client.put_object, **body, **args, **conditions, **sha256_checksum(sha256))

    def _complete(self, conditions: dict[str, str]) -> Any:
        """Send the last part, then complete the multipart upload."""
        if self._spooled:
            self._send_part()
        response = self._call(self.store.client.complete_multipart_upload, Bucket=self.args["Bucket"],
                              Key=self.args["Key"], UploadId=self._upload_id,
                              MultipartUpload={"Parts": self._parts}, **conditions)
        self._upload_id = None
        return response

    def abort(self) -> None:
        self._open = False
        self._drop_spool()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self._call(self.store.client.abort_multipart_upload, Bucket=self.args["Bucket"],
                       Key=self.args["Key"], UploadId=upload_id)
