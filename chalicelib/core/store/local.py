"""The local-folder store: each object a plain file at its key path under the folder.

The store's own bookkeeping lives in `<folder>/.store/` (metadata sidecars in
`.store/meta/<key>.json`, temp files, a lock file). Writes go to a temp file in
`.store/tmp/` that is renamed into place, so no reader ever sees half an object;
a streaming write (`upload`) spools to such a temp file too.

Never outside the folder (docs/configuration.md, "The local store"): every path is walked from
the folder one name at a time, each folder opened with `O_NOFOLLOW` and the next name used
relative to it (`dir_fd`), at the moment of use — a commit walks again, so a folder swapped for
a symbolic link after the upload started is refused, not followed. Sidecars, temp files and the
lock file are reached the same way. A symbolic link inside the store is never followed: as a
folder on a key's path it is an `InvalidKey`; as a file it is not an object (`list` skips it,
`head` and `open` answer NotFound). Files and folders are created with the process's umask
(0666/0777 before it), like any other tool's.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
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
_META = (_RESERVED, "meta")
_TMP = (_RESERVED, "tmp")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ABSENT = (FileNotFoundError, NotADirectoryError)


class LocalStore(Store):
    """Objects as plain files under a folder; metadata in `.store/meta/`; atomic writes."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.url = str(self.root)
        self._internal = self.root / _RESERVED
        self._thread_lock = threading.Lock()

    # paths: every folder opened relative to its parent, never through a symbolic link
    @staticmethod
    def _check(key: str) -> list[str]:
        validate_key(key)
        parts = key.split("/")
        if parts[0] == _RESERVED:
            raise InvalidKey(f"invalid key {key!r}: {_RESERVED}/ is reserved for the store itself")
        return parts

    @contextlib.contextmanager
    def _dirs(self, parts: Sequence[str], key: str, *, create: bool = False) -> Iterator[list[int]]:
        """Descriptors of the folder, then of each of `parts` below it (the last is the one asked for)."""
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        fds = [os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]  # the folder itself: as named
        try:
            for part in parts:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o777, dir_fd=fds[-1])
                try:
                    fds.append(os.open(part, _DIR_FLAGS, dir_fd=fds[-1]))
                except OSError as error:
                    if error.errno == errno.ELOOP or _is_symlink(fds[-1], part):
                        where = "/".join(parts[: parts.index(part) + 1])
                        raise InvalidKey(f"invalid key {key!r}: {where} is a symbolic link (the store never "
                                         "follows one: it could lead outside the store)") from None
                    raise
            yield fds
        finally:
            for fd in fds:
                os.close(fd)

    @staticmethod
    def _meta_parts(parts: Sequence[str]) -> tuple[list[str], str]:
        return [*_META, *parts[:-1]], parts[-1] + ".json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock, self._dirs([_RESERVED], _RESERVED, create=True) as fds:
            lock = os.open("lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=fds[-1])
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)
                yield
            finally:
                os.close(lock)  # releases the lock

    def _read_meta(self, key: str, parts: Sequence[str]) -> dict[str, Any]:
        folder, name = self._meta_parts(parts)
        try:
            with self._dirs(folder, key) as fds:
                fd = os.open(name, _READ_FLAGS, dir_fd=fds[-1])
                with os.fdopen(fd, "rb") as stream:
                    record = json.loads(stream.read())
        except (OSError, ValueError, InvalidKey):  # absent, unreadable or reached through a link: no metadata
            return {}
        return record if isinstance(record, dict) else {}

    def _record(self, key: str, parts: Sequence[str], dir_fd: int) -> dict[str, Any]:
        """The metadata record of the file `parts[-1]` in `dir_fd`, with an ETag recomputed if the file
        changed out-of-band; NotFound if it is not a regular file (absent, a folder, a symbolic link)."""
        name = parts[-1]
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except _ABSENT:
            raise NotFound(f"no object {key!r} in {self.url}") from None
        if not stat.S_ISREG(info.st_mode):
            raise NotFound(f"no object {key!r} in {self.url}")
        record = self._read_meta(key, parts)
        if record.get("size") != info.st_size or record.get("mtime_ns") != info.st_mtime_ns:
            # Edited or created by hand: the file wins, its user metadata is gone.
            try:
                fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
            except OSError:
                raise NotFound(f"no object {key!r} in {self.url}") from None
            record = {"etag": _md5_fd(fd), "size": info.st_size, "mtime_ns": info.st_mtime_ns}
        return record

    def _sidecar(self, key: str) -> dict[str, Any]:
        parts = self._check(key)
        try:
            with self._dirs(parts[:-1], key) as fds:
                return self._record(key, parts, fds[-1])
        except _ABSENT:  # the folder, or a parent of the key, is absent (or a file)
            raise NotFound(f"no object {key!r} in {self.url}") from None

    # interface
    def list(self, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        found: list[ObjectInfo] = []
        # Walk only the part of the tree the prefix can be in.
        folder = prefix.split("/")[:-1] if "/" in prefix else []
        if folder and folder[0] == _RESERVED:
            return
        try:
            with self._dirs(folder, prefix) as fds:
                base = "".join(part + "/" for part in folder)
                self._scan(fds[-1], base, prefix, start_after.encode("utf-8"), found)
        except (*_ABSENT, InvalidKey):  # no such folder, or one reached through a link: nothing listed
            return
        found.sort(key=lambda info: info.key.encode("utf-8"))
        yield from found

    def _scan(self, fd: int, base: str, prefix: str, after: bytes, found: builtins.list[ObjectInfo]) -> None:
        with os.scandir(fd) as scan:
            entries = list(scan)
        for entry in entries:
            key = base + entry.name
            if entry.is_symlink():
                continue  # never followed, never an object
            if entry.is_dir(follow_symlinks=False):
                if (base == "" and entry.name == _RESERVED) or not (
                        (key + "/").startswith(prefix) or prefix.startswith(key + "/")):
                    continue
                try:
                    sub = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                except OSError:  # removed, or swapped for a link, since the scan
                    continue
                try:
                    self._scan(sub, key + "/", prefix, after, found)
                finally:
                    os.close(sub)
            elif key.startswith(prefix) and key.encode("utf-8") > after:
                try:
                    record = self._record(key, key.split("/"), fd)
                except NotFound:  # deleted since the scan saw it (another run): as S3 would, skip it
                    continue
                found.append(ObjectInfo(key, record["size"], record["etag"]))

    def head(self, key: str) -> ObjectHead:
        record = self._sidecar(key)
        return ObjectHead(
            key,
            record["size"],
            record["etag"],
            dict(record.get("metadata", {})),
            record.get("content_type", "application/octet-stream"),
        )

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        parts = self._check(key)
        try:
            with self._dirs(parts[:-1], key) as fds:
                fd = os.open(parts[-1], _READ_FLAGS, dir_fd=fds[-1])
        except (*_ABSENT, IsADirectoryError):
            raise NotFound(f"no object {key!r} in {self.url}") from None
        except OSError as error:
            if error.errno != errno.ELOOP:
                raise
            raise NotFound(f"no object {key!r} in {self.url} (a symbolic link is not an object)") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise NotFound(f"no object {key!r} in {self.url}")
        with os.fdopen(fd, "rb") as stream:
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
        parts = self._check(key)
        with contextlib.suppress(*_ABSENT), self._dirs(parts[:-1], key):  # a link on the way: refused now (and at commit)
            pass
        return _LocalUpload(self, key, parts, check_metadata(metadata), content_type)

    def _check_conditions(self, key: str, parts: Sequence[str], dir_fd: int, if_none_match: bool,
                          if_match: str | None) -> None:
        """PreconditionFailed unless the current object allows the write (call under the lock)."""
        if not (if_none_match or if_match is not None):
            return
        try:
            current = self._record(key, parts, dir_fd)["etag"]
        except NotFound:
            current = None
        if if_none_match and current is not None:
            raise PreconditionFailed(f"{key!r} already exists")
        if if_match is not None and current != if_match.strip('"'):
            raise PreconditionFailed(f"{key!r} changed since it was read (ETag mismatch)")

    def delete_many(self, keys: Iterable[str]) -> None:
        targets = [(key, self._check(key)) for key in keys]
        if not targets:
            return
        key = ""
        try:
            with self._locked():
                for key, parts in targets:
                    meta_folder, meta_name = self._meta_parts(parts)
                    # the sidecar first: a link on its way stops the delete before the object is touched
                    self._unlink(key, meta_folder, meta_name, keep=len(_META))
                    self._unlink(key, parts[:-1], parts[-1], keep=0)
        except InvalidKey:
            raise
        except OSError as error:  # permissions, a read-only disk, ...
            where = f"{key!r} from {self.url}" if key else f"from {self.url}"
            raise StoreError(f"cannot delete {where}: {os_reason(error)}") from None

    def _unlink(self, key: str, folder: Sequence[str], name: str, keep: int) -> None:
        """Remove `name` from `folder` (absent: nothing to do), then the folders it leaves empty,
        up to the first `keep` parts."""
        try:
            with self._dirs(folder, key) as fds:
                try:
                    os.unlink(name, dir_fd=fds[-1])
                except (*_ABSENT, IsADirectoryError):  # absent, below a file, or a folder: no object by that key
                    return
                for depth in range(len(folder), keep, -1):
                    try:
                        os.rmdir(folder[depth - 1], dir_fd=fds[depth - 1])
                    except OSError:
                        return
        except _ABSENT:
            return


class _LocalUpload(Upload):
    """A temp file in `.store/tmp/`, MD5-hashed while written, renamed into place on commit."""

    def __init__(self, store: LocalStore, key: str, parts: list[str], metadata: dict[str, str],
                 content_type: str) -> None:
        self.store, self.key, self.parts = store, key, parts
        self.metadata, self.content_type = metadata, content_type
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._tmp_dir: int | None = None
        self._tmp_name = ""
        try:
            with store._dirs(_TMP, key, create=True) as fds:
                self._tmp_dir = os.dup(fds[-1])  # the temp folder as opened now, for the commit's rename
            self._tmp_name = f"upload-{uuid.uuid4().hex}"
            fd = os.open(self._tmp_name, _NEW_FLAGS, 0o666, dir_fd=self._tmp_dir)
        except OSError as error:
            self._close_tmp_dir()
            raise self._error(error) from None
        self._out: IO[bytes] | None = os.fdopen(fd, "wb")

    def _error(self, error: OSError) -> StoreError:
        return StoreError(f"cannot write {self.key!r} to {self.store.url}: {os_reason(error)}")

    def _close_tmp_dir(self) -> None:
        if self._tmp_dir is not None:
            os.close(self._tmp_dir)
            self._tmp_dir = None

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
            info = os.fstat(self._out.fileno())
            self._out.close()
            self._out = None
            etag = self._md5.hexdigest()
            record = {"etag": etag, "size": info.st_size, "mtime_ns": info.st_mtime_ns,
                      "content_type": self.content_type, "metadata": metadata}
            with self.store._locked():
                self._install(record, if_none_match, if_match)
            self._tmp_name = ""
            self._close_tmp_dir()
            return etag
        except OSError as error:  # disk full, a parent of the key is a file, permissions, ...
            raise self._error(error) from None

    def _install(self, record: dict[str, Any], if_none_match: bool, if_match: str | None) -> None:
        """Check the conditions and rename the temp file into place with its sidecar (under the lock): every
        folder walked again now, so a link put on the way since the upload started is refused."""
        store, key, parts = self.store, self.key, self.parts
        meta_folder, meta_name = store._meta_parts(parts)
        with store._dirs(parts[:-1], key, create=True) as fds, store._dirs(meta_folder, key, create=True) as meta:
            store._check_conditions(key, parts, fds[-1], if_none_match, if_match)
            meta_tmp = meta_name + ".tmp"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(meta_tmp, dir_fd=meta[-1])  # a leftover of a crash (never followed: unlink)
            renamed = False
            try:
                fd = os.open(meta_tmp, _NEW_FLAGS, 0o666, dir_fd=meta[-1])
                with os.fdopen(fd, "w") as stream:
                    stream.write(json.dumps(record, sort_keys=True))
                os.replace(self._tmp_name, parts[-1], src_dir_fd=self._tmp_dir, dst_dir_fd=fds[-1])
                os.replace(meta_tmp, meta_name, src_dir_fd=meta[-1], dst_dir_fd=meta[-1])
                renamed = True
            finally:
                if not renamed:
                    with contextlib.suppress(OSError):
                        os.unlink(meta_tmp, dir_fd=meta[-1])

    def abort(self) -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.close()
            self._out = None
        if self._tmp_name and self._tmp_dir is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp_name, dir_fd=self._tmp_dir)
        self._tmp_name = ""
        self._close_tmp_dir()


def _is_symlink(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _md5_fd(fd: int) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with os.fdopen(fd, "rb") as stream:
        while chunk := stream.read(CHUNK):
            md5.update(chunk)
    return md5.hexdigest()
