"""The object store: one small interface, two backends (a local folder and S3).

Keys are `/`-separated relative paths (`bls/pr/pr.data.0.Current`). ETags are
returned without the quotes S3 puts around them. User metadata keys are
lower-case, as S3 returns them.

Local folder layout: each object is a plain file at its key path under the
folder; the store's own bookkeeping lives in `<folder>/.store/` (metadata
sidecars in `.store/meta/<key>.json`, temp files, a lock file). Writes go to a
temp file that is renamed into place, so no reader ever sees half an object.

Streaming writes (`Store.upload`): the body arrives in chunks of unknown total
length and is committed or abandoned at the end. The local store spools to a
temp file inside its own folder; S3 spools one part at a time (`part_size`, in
memory up to `spool_memory`, beyond that in TMPDIR): a single PUT when the body
fits one part, else a multipart upload. Abandoning leaves no
object, no version, no event and no open multipart upload. User metadata is
fixed when the upload starts, except `sha256` given at commit: recorded when the
object is written in one request (a multipart upload's metadata is fixed at its
creation, before the hash is known).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from chalicelib.core.errors import InvalidKey, NotFound, PreconditionFailed, StoreError

# S3 multipart part size (S3 needs >= 5 MiB): a body up to one part is one PUT. One part per
# transfer is spooled, so TMPDIR holds at most concurrency x PART_SIZE (4 x 64 MiB = 256 MiB).
PART_SIZE = 64 * 1024 * 1024
SPOOL_MEMORY = 1024 * 1024  # a part up to this size stays in memory; a bigger one is a temp file
MAX_PARTS = 10_000  # S3's limit: a streamed object is at most MAX_PARTS x part size
SINGLE_PUT_MAX = 256 * 1024 * 1024  # a file on disk up to this size is sent in one streamed PUT
_CHUNK = 1024 * 1024
_RESERVED = ".store"


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
        validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def _check_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    result = {}
    for name, value in (metadata or {}).items():
        if not isinstance(value, str) or not value.isascii() or not name.isascii():
            raise StoreError(f"metadata {name!r}: names and values must be ASCII strings")
        result[name.lower()] = value
    return result


class Store(ABC):
    """What the pipeline needs from an object store."""

    url: str

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


def open_store(url: str) -> Store:
    """The store for a DATA_STORE value: `s3://bucket[/prefix]` or a local folder."""
    if url.startswith("s3://"):
        bucket, _, prefix = url[len("s3://") :].partition("/")
        return S3Store(bucket, prefix)
    return LocalStore(url)


# --------------------------------------------------------------------------- local folder


class LocalStore(Store):
    """Objects as plain files under a folder; metadata in `.store/meta/`; atomic writes."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.url = str(self.root)
        self._internal = self.root / _RESERVED
        self._thread_lock = threading.Lock()

    # paths
    def _path(self, key: str) -> Path:
        validate_key(key)
        if key.split("/", 1)[0] == _RESERVED:
            raise InvalidKey(f"invalid key {key!r}: {_RESERVED}/ is reserved for the store itself")
        path = self.root.joinpath(*key.split("/"))
        # Belt and braces: a symlinked folder must not lead outside the store either.
        real_root = self.root.resolve()
        if not path.resolve().is_relative_to(real_root):
            raise InvalidKey(f"invalid key {key!r}: resolves outside the store")
        return path

    def _meta_path(self, key: str) -> Path:
        return self._internal.joinpath("meta", *key.split("/")).with_name(key.rsplit("/", 1)[-1] + ".json")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._internal.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self._internal / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _sidecar(self, key: str, path: Path) -> dict[str, Any]:
        """The metadata record, with an ETag recomputed if the file changed out-of-band."""
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):  # absent, or a parent is a file
            raise NotFound(f"no object {key!r} in {self.url}") from None
        if not path.is_file():
            raise NotFound(f"no object {key!r} in {self.url}")
        try:
            record = json.loads(self._meta_path(key).read_text())
        except (FileNotFoundError, ValueError):
            record = {}
        if record.get("size") != stat.st_size or record.get("mtime_ns") != stat.st_mtime_ns:
            # Edited or created by hand: the file wins, its user metadata is gone.
            record = {"etag": _md5_file(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        return record

    # interface
    def list(self, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        if not self.root.is_dir():
            return
        found: list[ObjectInfo] = []
        after = start_after.encode("utf-8")
        # Walk only the part of the tree the prefix can be in.
        start = self.root.joinpath(*prefix.split("/")[:-1]) if "/" in prefix else self.root
        for dirpath, dirnames, filenames in os.walk(start):
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            base = "" if rel_dir == "." else f"{rel_dir}/"
            dirnames[:] = [
                d for d in dirnames
                if not (base == "" and d == _RESERVED)
                and ((base + d + "/").startswith(prefix) or prefix.startswith(base + d + "/"))
            ]
            for name in filenames:
                key = base + name
                if key.startswith(prefix) and key.encode("utf-8") > after:
                    try:
                        record = self._sidecar(key, Path(dirpath) / name)
                    except NotFound:  # deleted since the walk saw it (another run): as S3 would, skip it
                        continue
                    found.append(ObjectInfo(key, record["size"], record["etag"]))
        found.sort(key=lambda info: info.key.encode("utf-8"))
        yield from found

    def head(self, key: str) -> ObjectHead:
        record = self._sidecar(key, self._path(key))
        return ObjectHead(
            key,
            record["size"],
            record["etag"],
            dict(record.get("metadata", {})),
            record.get("content_type", "application/octet-stream"),
        )

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        try:
            stream = open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no object {key!r} in {self.url}") from None
        with stream:
            yield stream

    def put(
        self,
        key: str,
        body: bytes | IO[bytes],
        *,
        metadata: dict[str, str] | None = None,
        content_type: str = "application/octet-stream",
        if_none_match: bool = False,
        if_match: str | None = None,
        sha256: str | None = None,  # nothing to check against: the copy never leaves this machine
    ) -> str:
        with self.upload(key, metadata=metadata, content_type=content_type) as upload:
            _copy_into(upload, body)
            return upload.commit(if_none_match=if_none_match, if_match=if_match)

    def begin_upload(self, key: str, *, metadata: dict[str, str] | None = None,
                     content_type: str = "application/octet-stream") -> _LocalUpload:
        return _LocalUpload(self, key, self._path(key), _check_metadata(metadata), content_type)

    def _temp_file(self) -> tuple[int, str]:
        """A new temp file in the store's own folder (same file system: the rename is atomic)."""
        tmp_dir = self._internal / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=tmp_dir)

    def _check_conditions(self, key: str, path: Path, if_none_match: bool, if_match: str | None) -> None:
        """PreconditionFailed unless the current object allows the write (call under the lock)."""
        if not (if_none_match or if_match is not None):
            return
        try:
            current = self._sidecar(key, path)["etag"]
        except NotFound:
            current = None
        if if_none_match and current is not None:
            raise PreconditionFailed(f"{key!r} already exists")
        if if_match is not None and current != if_match.strip('"'):
            raise PreconditionFailed(f"{key!r} changed since it was read (ETag mismatch)")

    def _install(self, key: str, path: Path, tmp_name: str, record: dict[str, Any]) -> None:
        """Rename the finished temp file into place with its sidecar (call under the lock)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        meta_path = self._meta_path(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta_tmp: Path | None = meta_path.with_name(meta_path.name + ".tmp")
        try:
            meta_tmp.write_text(json.dumps(record, sort_keys=True))
            os.replace(tmp_name, path)
            os.replace(meta_tmp, meta_path)
            # Renamed: the name may already be another writer's temp file (it waits on the lock).
            meta_tmp = None
        finally:
            if meta_tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(meta_tmp)

    def delete_many(self, keys: Iterable[str]) -> None:
        paths = [(key, self._path(key)) for key in keys]
        if not paths:
            return
        key = ""
        try:
            with self._locked():
                for key, path in paths:
                    for target in (path, self._meta_path(key)):
                        # Absent, a parent that is a file, or a folder: no object by that key.
                        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                            target.unlink()
                        _prune_empty_dirs(target.parent, stop=self.root)
        except OSError as error:  # permissions, a read-only disk, ...
            where = f"{key!r} from {self.url}" if key else f"from {self.url}"
            raise StoreError(f"cannot delete {where}: {_os_reason(error)}") from None


class _LocalUpload(Upload):
    """A temp file in `.store/tmp/`, MD5-hashed while written, renamed into place on commit."""

    def __init__(self, store: LocalStore, key: str, path: Path, metadata: dict[str, str], content_type: str) -> None:
        self.store, self.key, self.path = store, key, path
        self.metadata, self.content_type = metadata, content_type
        self._md5 = hashlib.md5(usedforsecurity=False)
        try:
            fd, self._tmp_name = store._temp_file()
        except OSError as error:
            raise self._error(error) from None
        self._out: IO[bytes] | None = os.fdopen(fd, "wb")

    def _error(self, error: OSError) -> StoreError:
        return StoreError(f"cannot write {self.key!r} to {self.store.url}: {_os_reason(error)}")

    def write(self, chunk: bytes) -> None:
        assert self._out is not None, "write after commit or abort"
        self._md5.update(chunk)
        try:
            self._out.write(chunk)
        except OSError as error:  # disk full, ...
            raise self._error(error) from None

    def commit(self, sha256: str | None = None, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        assert self._out is not None, "commit after commit or abort"
        metadata = self.metadata | ({"sha256": sha256} if sha256 else {})
        try:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
            stat = os.stat(self._tmp_name)
            etag = self._md5.hexdigest()
            record = {"etag": etag, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                      "content_type": self.content_type, "metadata": metadata}
            with self.store._locked():
                self.store._check_conditions(self.key, self.path, if_none_match, if_match)
                self.store._install(self.key, self.path, self._tmp_name, record)
            self._tmp_name = ""
            return etag
        except OSError as error:  # disk full, a parent of the key is a file, permissions, ...
            raise self._error(error) from None

    def abort(self) -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.close()
            self._out = None
        if self._tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp_name)
            self._tmp_name = ""


class _BodyReadError(Exception):
    """Carries an OSError raised while reading the caller's body (not the store's fault)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _os_reason(error: OSError) -> str:
    """An OSError's reason without the temp-file paths it may name."""
    if isinstance(error, FileExistsError | NotADirectoryError):
        return f"{error.strerror} (a part of the key's path is already an object)"
    if isinstance(error, IsADirectoryError):
        return f"{error.strerror} (the key is a folder holding other objects)"
    return error.strerror or str(error)


def _prune_empty_dirs(directory: Path, stop: Path) -> None:
    while directory != stop and directory.is_relative_to(stop):
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _md5_file(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            md5.update(chunk)
    return md5.hexdigest()


def _copy_into(upload: Upload, body: bytes | IO[bytes]) -> None:
    """Write the whole body; an error reading the caller's stream is raised as it was."""
    try:
        for chunk in _body_chunks(body):
            upload.write(chunk)
    except _BodyReadError as failed:
        raise failed.error from None


def _body_chunks(body: bytes | IO[bytes], size: int = _CHUNK) -> Iterator[bytes]:
    """The body in chunks; its own read errors are told apart from the store's write errors."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        yield bytes(body)
        return
    while True:
        try:
            chunk = body.read(size)
        except OSError as error:
            raise _BodyReadError(error) from error
        if not chunk:
            return
        yield chunk


# --------------------------------------------------------------------------- S3


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
        while (page := _s3_call(next, pages, None, _operation="list_objects_v2", _bucket=self.bucket)) is not None:
            for item in page.get("Contents", []):
                yield ObjectInfo(self._relative(item["Key"]), item["Size"], item["ETag"].strip('"'))

    def head(self, key: str) -> ObjectHead:
        response = _s3_call(self.client.head_object, Bucket=self.bucket, Key=self._full(key), _key=key)
        return ObjectHead(
            key,
            response["ContentLength"],
            response["ETag"].strip('"'),
            {k.lower(): v for k, v in response.get("Metadata", {}).items()},
            response.get("ContentType", "application/octet-stream"),
        )

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        response = _s3_call(self.client.get_object, Bucket=self.bucket, Key=self._full(key), _key=key)
        body = response["Body"]
        try:
            yield body
        finally:
            body.close()

    def read(self, key: str) -> StoredObject:
        response = _s3_call(self.client.get_object, Bucket=self.bucket, Key=self._full(key), _key=key)
        with contextlib.closing(response["Body"]) as body:
            data = body.read()
        metadata = {k.lower(): v for k, v in response.get("Metadata", {}).items()}
        return StoredObject(key, data, response["ETag"].strip('"'), metadata)

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
            "Metadata": _check_metadata(metadata),
            "ContentType": content_type,
        }
        conditions: dict[str, str] = {}
        if if_none_match:
            conditions["IfNoneMatch"] = "*"
        if if_match is not None:
            conditions["IfMatch"] = f'"{if_match.strip(chr(34))}"'
        if isinstance(body, (bytes, bytearray, memoryview)):
            body = bytes(body)
        elif (size := _file_size(body)) is None or size > SINGLE_PUT_MAX:
            # A stream of unknown length, or a big file: parts of `part_size`, one spooled at a time.
            with self.upload(key, metadata=metadata, content_type=content_type) as upload:
                _copy_into(upload, body)
                return upload.commit(sha256, if_none_match=if_none_match, if_match=if_match)
        # Bytes, or a file on disk of known length: one streamed PUT (botocore reads it in chunks,
        # memory stays flat); fewer requests than parts, and no server-side reassembly.
        response = _s3_call(self.client.put_object, Body=body, _key=key, **args, **conditions,
                            **_sha256_checksum(sha256))
        return response["ETag"].strip('"')

    def begin_upload(self, key: str, *, metadata: dict[str, str] | None = None,
                     content_type: str = "application/octet-stream") -> _S3Upload:
        args = {"Bucket": self.bucket, "Key": self._full(key), "Metadata": _check_metadata(metadata),
                "ContentType": content_type}
        return _S3Upload(self, key, args)

    def delete_many(self, keys: Iterable[str]) -> None:
        full = [self._full(key) for key in keys]
        for start in range(0, len(full), 1000):
            batch = full[start : start + 1000]
            response = _s3_call(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
            if errors := response.get("Errors"):
                detail = ", ".join(f"{e['Key']}: {e.get('Code')}" for e in errors[:5])
                raise StoreError(f"could not delete {len(errors)} object(s) from {self.url}: {detail}")


class _S3Upload(Upload):
    """One part spooled at a time: a single PUT if the body fits one part, else a multipart upload."""

    def __init__(self, store: S3Store, key: str, args: dict[str, Any]) -> None:
        self.store, self.key, self.args = store, key, args
        self._spool: IO[bytes] | None = None
        self._spooled = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._open = True

    def _call(self, method: Any, **kwargs: Any) -> Any:
        return _s3_call(method, _key=self.key, **kwargs)

    def write(self, chunk: bytes) -> None:
        assert self._open, "write after commit or abort"
        if self._spool is None:
            self._spool = tempfile.SpooledTemporaryFile(max_size=self.store.spool_memory)
        try:
            self._spool.write(chunk)
        except OSError as error:  # a full TMPDIR
            raise StoreError(f"cannot spool a part of {self.key!r}: {_os_reason(error)}") from None
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
        conditions: dict[str, str] = {}
        if if_none_match:
            conditions["IfNoneMatch"] = "*"
        if if_match is not None:
            conditions["IfMatch"] = f'"{if_match.strip(chr(34))}"'
        client = self.store.client
        if self._upload_id is None:
            args = self.args | {"Metadata": self.args["Metadata"] | ({"sha256": sha256} if sha256 else {})}
            body = self._body() if self._spool is not None else {"Body": b""}
            response = self._call(client.put_object, **body, **args, **conditions, **_sha256_checksum(sha256))
        else:
            if self._spooled:
                self._send_part()
            response = self._call(client.complete_multipart_upload, Bucket=self.args["Bucket"],
                                  Key=self.args["Key"], UploadId=self._upload_id,
                                  MultipartUpload={"Parts": self._parts}, **conditions)
            self._upload_id = None
        self._open = False
        self._drop_spool()
        return response["ETag"].strip('"')

    def abort(self) -> None:
        self._open = False
        self._drop_spool()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self._call(self.store.client.abort_multipart_upload, Bucket=self.args["Bucket"],
                       Key=self.args["Key"], UploadId=upload_id)


def _sha256_checksum(sha256: str | None) -> dict[str, str]:
    """PutObject arguments that let S3 verify the body against a SHA-256 the caller already has.

    With a checksum header present botocore computes no CRC32 of its own (over plain http it
    would read the whole file once more before sending, just for that): the same end-to-end
    check, one pass over the body less. Multipart uploads keep botocore's per-part checksums.
    """
    if sha256 is None:
        return {}
    value = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
    return {"ChecksumAlgorithm": "SHA256", "ChecksumSHA256": value}


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


def _s3_call(
    method: Any, *args: Any, _key: str | None = None, _operation: str | None = None, _bucket: str | None = None,
    **kwargs: Any,
) -> Any:
    """Call boto3, turning its errors into the store's own (with the key in the message).

    `_operation` and `_bucket` name the request in messages when `method` is not the boto3 call
    itself (e.g. `next` on a paginator's pages).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    operation = _operation or getattr(method, "__name__", "call")
    bucket = _bucket or kwargs.get("Bucket")
    try:
        return method(*args, **kwargs)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            raise StoreError(
                f"S3 {operation} failed: the bucket {bucket!r} does not exist (check DATA_STORE)"
            ) from None
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            raise NotFound(f"no object {_key!r}") from None
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
            raise PreconditionFailed(f"{_key!r}: conditional write lost ({code})") from None
        raise StoreError(f"S3 {operation} failed for {_key or bucket!r}: {code} {error}") from None
    except BotoCoreError as error:
        raise StoreError(f"S3 {operation} failed for {_key or bucket!r}: {error}") from None


__all__ = [
    "LocalStore",
    "ObjectHead",
    "ObjectInfo",
    "S3Store",
    "Store",
    "StoredObject",
    "open_store",
    "validate_key",
]
