"""The store interface: what the pipeline needs from an object store, and what a key is.

Keys are `/`-separated relative paths (`bls/pr/pr.data.0.Current`). ETags are
returned without the quotes S3 puts around them. User metadata keys are
lower-case, as S3 returns them.

Streaming writes (`Store.upload`): the body arrives in chunks of unknown total
length and is committed or abandoned at the end. Abandoning leaves no object, no
version, no event and no open multipart upload. User metadata is fixed when the
upload starts, except `sha256` given at commit: recorded when the object is written
in one request (a multipart upload's metadata is fixed at its creation, before the
hash is known). Each backend says how it spools (`local.py`, `s3.py`).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, BinaryIO

from chalicelib.core.errors import InvalidKey, NotFound, StoreError


@dataclass(frozen=True)
class ObjectInfo:
    """One entry of a listing: what S3's ListObjectsV2 returns without extra requests."""

    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class ObjectHead(ObjectInfo):
    """An object's description, with its user metadata and content type."""

    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class StoredObject:
    """A small object read whole (state files, JSON documents)."""

    key: str
    body: bytes
    etag: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class StoreLocation:
    """Where a store's objects live: an S3 bucket and key prefix, or no bucket (a local folder)."""

    bucket: str | None = None
    prefix: str = ""  # without leading or trailing '/'; "" for the whole bucket


LOCAL = StoreLocation()


class Upload(ABC):
    """A streaming write in progress: `write` chunks, then `commit` (or `abort`) once."""

    @abstractmethod
    def write(self, chunk: bytes) -> None:
        """Append bytes to the body."""

    @abstractmethod
    def commit(self, sha256: str | None = None, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        """Make the object visible; return its ETag. `sha256`: hex SHA-256 of the whole body, if known.

        The conditions are those of `Store.put` (PreconditionFailed, and nothing written).
        """

    @abstractmethod
    def abort(self) -> None:
        """Abandon the write: no object, nothing left behind. Safe to call twice."""


def validate_key(key: str) -> str:
    """Return `key` if it is a safe relative key; raise InvalidKey otherwise (never fix it)."""
    if not isinstance(key, str) or not key:
        raise InvalidKey(f"invalid key {key!r}: empty")
    if key.startswith("/") or "\\" in key:
        raise InvalidKey(f"invalid key {key!r}: keys are relative paths separated by '/'")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidKey(f"invalid key {key!r}: control characters")
    if len(key.encode("utf-8")) > 1024:
        raise InvalidKey(f"invalid key {key[:40]!r}...: longer than 1024 bytes")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"invalid key {key!r}: empty, '.' or '..' segment")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key-like string (a trailing '/' is allowed)."""
    if prefix:
        validate_key(prefix.removesuffix("/"))
    return prefix


def check_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    """User metadata as stored: ASCII names (lower-cased) and values; StoreError otherwise."""
    result = {}
    for name, value in (metadata or {}).items():
        if not isinstance(value, str) or not value.isascii() or not name.isascii():
            raise StoreError(f"metadata {name!r}: names and values must be ASCII strings")
        result[name.lower()] = value
    return result


class Store(ABC):
    """What the pipeline needs from an object store."""

    url: str

    @property
    def location(self) -> StoreLocation:
        """The bucket and prefix the objects are under; no bucket (the default) for a local folder.

        A store that wraps another one returns the inner store's location.
        """
        return LOCAL

    @abstractmethod
    def list(self, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix` (and sorts after `start_after`), in key order."""

    @abstractmethod
    def head(self, key: str) -> ObjectHead:
        """Size, ETag, metadata and content type of one object; NotFound if absent."""

    @abstractmethod
    def open(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """A streaming binary reader of the object; NotFound if absent."""

    @abstractmethod
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
        """Write an object from bytes or a binary stream; return its ETag.

        `if_none_match=True` only creates (PreconditionFailed if the key exists);
        `if_match=etag` only replaces that exact version (PreconditionFailed otherwise).
        `sha256` (hex) is the SHA-256 of the body from its current position, when the caller has
        already computed it: S3 then checks the upload against it instead of a checksum of its own.
        """

    @abstractmethod
    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete the objects (absent keys are not an error)."""

    @abstractmethod
    def begin_upload(self, key: str, *, metadata: dict[str, str] | None = None,
                     content_type: str = "application/octet-stream") -> Upload:
        """Start a streaming write of `key` (see the module docstring); prefer `upload`."""

    @contextlib.contextmanager
    def upload(self, key: str, *, metadata: dict[str, str] | None = None,
               content_type: str = "application/octet-stream") -> Iterator[Upload]:
        """A streaming write that is abandoned unless committed inside the block (errors included)."""
        upload = self.begin_upload(key, metadata=metadata, content_type=content_type)
        try:
            yield upload
        finally:
            # A no-op after commit. If aborting fails too, the bucket's lifecycle rule removes
            # the incomplete upload; the error that stopped the write is the one to report.
            with contextlib.suppress(StoreError):
                upload.abort()

    def read(self, key: str) -> StoredObject:
        """Read a small object whole, with its ETag and metadata; NotFound if absent."""
        head = self.head(key)
        with self.open(key) as stream:
            body = stream.read()
        return StoredObject(key, body, head.etag, head.metadata)

    def exists(self, key: str) -> bool:
        """True if an object is stored under `key`."""
        try:
            self.head(key)
        except NotFound:
            return False
        return True
