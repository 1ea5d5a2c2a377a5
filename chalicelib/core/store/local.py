"""The local-folder store: each object a plain file at its key path under the folder.

The store's own bookkeeping lives in `<folder>/.store/` (metadata sidecars in
`.store/meta/<key>.json`, temp files, a lock file). Writes go to a temp file in
`.store/tmp/` that is renamed into place, so no reader ever sees half an object;
a streaming write (`upload`) spools to such a temp file too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from chalicelib.core.errors import InvalidKey, NotFound, PreconditionFailed, StoreError
from chalicelib.core.store.base import (
    ObjectHead,
    ObjectInfo,
    Store,
    Upload,
    check_metadata,
    validate_key,
    validate_prefix,
)
from chalicelib.core.store.bodies import CHUNK, copy_into, os_reason

_RESERVED = ".store"


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
            record: dict[str, Any] = json.loads(self._meta_path(key).read_text())
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
            stream = open(path, "rb")  # noqa: SIM115 - closed by the `with` below; a failed open is NotFound
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
            copy_into(upload, body)
            return upload.commit(if_none_match=if_none_match, if_match=if_match)

    def begin_upload(self, key: str, *, metadata: dict[str, str] | None = None,
                     content_type: str = "application/octet-stream") -> _LocalUpload:
        return _LocalUpload(self, key, self._path(key), check_metadata(metadata), content_type)

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
        meta_tmp = meta_path.with_name(meta_path.name + ".tmp")
        renamed = False
        try:
            meta_tmp.write_text(json.dumps(record, sort_keys=True))
            os.replace(tmp_name, path)
            os.replace(meta_tmp, meta_path)
            # Renamed: the name may already be another writer's temp file (it waits on the lock).
            renamed = True
        finally:
            if not renamed:
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
            raise StoreError(f"cannot delete {where}: {os_reason(error)}") from None


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
        return StoreError(f"cannot write {self.key!r} to {self.store.url}: {os_reason(error)}")

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
        while chunk := stream.read(CHUNK):
            md5.update(chunk)
    return md5.hexdigest()

