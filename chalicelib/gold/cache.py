"""The explorer's caches: indexes in memory per object version (ETag), and local copies of objects.

In memory: `cached(store, key, etag, kind, load)` keeps `load`'s result per process and object
version (the least recently used dropped beyond `INDEX_ENTRIES` × 3 entries: catalog, latest,
count). On disk: `local_copy` keeps an object's bytes per ETag under `CACHE_DIR` (Lambda's /tmp
survives between invocations of a warm function), the oldest dropped beyond `CACHE_BYTES`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalicelib.core.store import Store
from chalicelib.gold import tables

CACHE_DIR = Path(tempfile.gettempdir()) / "bls-pipeline-gold"
CACHE_BYTES = 384 * 1024 * 1024  # local copies kept (Lambda's /tmp is 512 MiB by default)
INDEX_ENTRIES = 16  # indexed catalogs kept in memory (one per survey and object version)

_MEMORY: OrderedDict[tuple[str, str, str], tuple[str, Any]] = OrderedDict()
_LOCK = threading.Lock()


def cached[T](store: Store, key: str, etag: str, kind: str, load: Callable[[Store, str], T]) -> T:
    """`load(store, key)` once per object version (ETag) and kind, per process (least recently used kept)."""
    slot = (store.url, key, kind)
    with _LOCK:
        hit = _MEMORY.get(slot)
        if hit is not None and hit[0] == etag:
            _MEMORY.move_to_end(slot)
            return hit[1]  # type: ignore[no-any-return]
    value = load(store, key)
    with _LOCK:
        _MEMORY[slot] = (etag, value)
        _MEMORY.move_to_end(slot)
        while len(_MEMORY) > INDEX_ENTRIES * 3:
            _MEMORY.popitem(last=False)
    return value


def current[T](store: Store, table: str, survey: str, kind: str, load: Callable[[Store, str], T]) -> T:
    """The cached `load` of a survey's partition of `table` (one HEAD); NotFound if it does not exist."""
    key = tables.partition_key(table, survey)
    return cached(store, key, store.head(key).etag, kind, load)


def local_copy(store: Store, key: str, etag: str) -> Path:
    """A local file with the object's bytes, kept per ETag; the oldest copies go beyond CACHE_BYTES."""
    name = hashlib.sha256(f"{store.url}\0{key}\0{etag}".encode()).hexdigest()[:32] + ".parquet"
    path = CACHE_DIR / name
    if path.exists():
        os.utime(path)
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=CACHE_DIR, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, store.open(key) as stream:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    copies = sorted(CACHE_DIR.glob("*.parquet"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for copy in copies:
        total += copy.stat().st_size
        if total > CACHE_BYTES and copy != path:
            copy.unlink(missing_ok=True)
    return path


def clear_caches() -> None:
    """Forget the in-memory indexes (tests; the local copies stay valid: they are keyed by ETag)."""
    with _LOCK:
        _MEMORY.clear()
