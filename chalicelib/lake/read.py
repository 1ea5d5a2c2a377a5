"""Read silver partitions exactly (the web API's series endpoint; the gold tables).

`read_rows(path, series_id=…)` gives a data partition's rows as `DataRow`s whose value is the
stored integer (`value * 10**VALUE_SCALE`, a Python int: exact for every value the converter
accepts, never through a float), read from the raw DECIMAL cells.

`silver_selection` answers only when the file's partition is current (made from the version of
the source now in the store); otherwise None, and the caller scans the TSV as before. The
Parquet object is fetched once per ETag into a **private cache**: a folder made for this
process (`tempfile.mkdtemp`: mode 0700, owned by the process user; Lambda's /tmp survives
between invocations of a warm function). Only files this process downloaded are used: each is
checked against the object while it is fetched (the SHA-256 the lake records in the object's
metadata, else the MD5 of a single-part ETag) and, before each use, against what was recorded
then (owner, inode, size, modification time); anything else is fetched again. A file planted in
any temp folder is never read.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from chalicelib.core.errors import NotFound, PipelineError
from chalicelib.core.log import log_error
from chalicelib.core.store import ObjectHead, Store
from chalicelib.lake import tables
from chalicelib.lake.parquet import Decimal as DecimalType
from chalicelib.lake.parquet import decimal_ints, open_raw
from chalicelib.lake.sync import source_version

VALUE_TYPE = DecimalType(tables.VALUE_PRECISION, tables.VALUE_SCALE)
_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class DataRow:
    """One row of `bls_data`: `value` is the stored integer, value * 10**VALUE_SCALE (exact)."""

    series_id: str
    year: int
    period: str
    value: int

    @property
    def decimal(self) -> Decimal:
        """The exact value (`Decimal('0.5')`)."""
        return Decimal(self.value).scaleb(-tables.VALUE_SCALE).normalize() + 0


def read_rows(path: Path, series_id: str | None = None, period: str | None = None) -> list[DataRow]:
    """The rows of a `bls_data` Parquet file (of `series_id` / `period` only if given), in file order."""
    import numpy as np

    parquet, decimals = open_raw(str(path))  # the cells as they are stored (fastparquet would make floats)
    value = decimals.get("value")
    if value is None or value.width != VALUE_TYPE.width or value.scale != tables.VALUE_SCALE or not value.required:
        raise PipelineError(f"{path}: value is not DECIMAL({VALUE_TYPE.precision},{VALUE_TYPE.scale})")
    filters = [("series_id", "==", series_id)] if series_id is not None else None
    frame = parquet.to_pandas(columns=["series_id", "year", "period", "value"], filters=filters)
    # The filter skips row groups by their statistics; the rows are then picked here (numpy masks:
    # pandas cannot take rows of a column of byte cells).
    series = frame["series_id"].to_numpy(dtype=object)
    periods = frame["period"].to_numpy(dtype=object)
    years = frame["year"].to_numpy()
    cells = frame["value"].to_numpy()
    keep = np.ones(len(frame), dtype=bool)
    if series_id is not None:
        keep &= series == series_id
    if period is not None:
        keep &= periods == period
    values = decimal_ints(cells[keep])
    return [DataRow(str(s), int(y), str(p), v)
            for s, y, p, v in zip(series[keep].tolist(), years[keep].tolist(), periods[keep].tolist(), values)]


def silver_selection(store: Store, data_key: str, series_id: str, period: str) -> list[tuple[int, Decimal]] | None:
    """(year, exact value) of `series_id`/`period` in `data_key`'s partition, by year; None if no current partition."""
    partition = tables.partition_for_source(data_key)
    if partition is None or partition.table != tables.BLS_DATA:
        return None
    try:
        silver = store.head(partition.key)
        current = source_version(store.head(data_key))
    except NotFound:
        return None
    if silver.metadata.get("source-version") != current:
        return None  # the source changed and its conversion has not landed yet
    try:
        rows = read_rows(_cached(store, partition.key, silver), series_id, period)
    except (PipelineError, OSError, ValueError) as error:  # unreadable: the TSV still answers
        log_error("silver_read_failed", error, key=partition.key)
        return None
    return sorted(((row.year, row.decimal) for row in rows), key=lambda pair: pair[0])


# --------------------------------------------------------------------------- the private cache


@dataclass(frozen=True)
class _Entry:
    etag: str
    path: Path
    identity: tuple[int, int, int, int]  # uid, inode, size, mtime_ns when downloaded


_lock = threading.Lock()
_folder: Path | None = None
_entries: dict[str, _Entry] = {}


def cache_dir() -> Path:
    """This process's cache folder (made on first use: 0700, owned by the process user)."""
    global _folder
    with _lock:
        if _folder is None or not _private(_folder):
            _folder = Path(tempfile.mkdtemp(prefix="bls-pipeline-silver-"))
            _entries.clear()
        return _folder


def _private(folder: Path) -> bool:
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) == 0o700


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return info.st_uid, info.st_ino, info.st_size, info.st_mtime_ns


def _cached(store: Store, key: str, head: ObjectHead) -> Path:
    """A local copy of silver object `key` at `head`'s version, checked (see the module docstring)."""
    folder = cache_dir()
    entry = _entries.get(key)
    if entry is not None and entry.etag == head.etag and _identity(entry.path) == entry.identity:
        return entry.path
    fd, name = tempfile.mkstemp(dir=folder, suffix=".parquet")
    path = Path(name)
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    try:
        with os.fdopen(fd, "wb") as out, store.open(key) as stream:
            while chunk := stream.read(1024 * 1024):
                sha256.update(chunk)
                md5.update(chunk)
                out.write(chunk)
        expected = head.metadata.get("sha256")
        if expected and sha256.hexdigest() != expected:
            raise PipelineError(f"{key}: the downloaded copy does not match the object's recorded SHA-256")
        if not expected and _MD5_ETAG.match(head.etag) and md5.hexdigest() != head.etag:
            raise PipelineError(f"{key}: the downloaded copy does not match the object's ETag")
        identity = _identity(path)
        if identity is None:
            raise PipelineError(f"{path}: the cache copy vanished")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if entry is not None:  # one version per object: drop the older copy
        entry.path.unlink(missing_ok=True)
    _entries[key] = _Entry(head.etag, path, identity)
    return path
