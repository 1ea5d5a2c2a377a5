"""Keep a silver partition in step with its bronze source: convert once per change, delete with it.

`sync_source(store, key)` looks at the source's current state, not at the event that named
it, so duplicates, reordering and at-least-once delivery all converge:
- source gone → its partition (if any) is deleted (and dropped from the catalog);
- source present, partition made from the same version → nothing is written;
- otherwise the whole file is converted into a temp file and only then stored at the
  partition's key (one object, replaced at once). A conversion error raises `LakeFailed`
  and the previous partition stays as it was.
The version is the source's SHA-256 (object metadata `sha256`, written by the mirror), else
its ETag; it is kept in the silver object's metadata (`source-version`).
`reconcile(store)` does the same for every source and every partition (a backfill); a source it
could not convert is a `LakeFailure` in its answer, not an exception.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

from chalicelib.core.errors import NotFound, PipelineError, PreconditionFailed
from chalicelib.core.layout import LAKE_SOURCE_PREFIXES, POPULATION_KEY, SILVER_PREFIX
from chalicelib.core.log import log_error, log_event
from chalicelib.core.store import ObjectHead, Store
from chalicelib.lake import convert, revisions, tables
from chalicelib.lake.catalog import CatalogPartition
from chalicelib.lake.parquet import write_parquet
from chalicelib.lake.tables import Partition
from chalicelib.population.update import parse_population

PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
STABLE_SOURCE_ATTEMPTS = 3  # conversions per call while the source changes underneath


class LakeFailed(PipelineError):
    """A source could not be converted; its previous partition (if any) is unchanged."""


class Catalog(Protocol):
    """Where partitions are registered for SQL engines (Glue in AWS; nothing locally)."""

    def add(self, partition: CatalogPartition) -> None: ...

    def drop(self, partition: CatalogPartition) -> None: ...


@dataclass
class LakeResult:
    """What happened to one source: `written`, `unchanged`, `deleted`, `absent` or `skipped`."""

    action: str
    source: str
    partition: str | None = None
    rows: int | None = None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LakeFailure:
    """A source `reconcile` could not bring in step (`action` "failed"): its partition, if any, is as it was.

    `error` says why (the `LakeFailed` or other pipeline error); the next pass tries again.
    """

    source: str
    error: str
    action: str = "failed"

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "source": self.source, "error": self.error}


ReconcileEntry = LakeResult | LakeFailure  # one per source in `reconcile`'s answer


def source_version(head: ObjectHead) -> str:
    """The change key of a bronze object: its SHA-256 if recorded, else its ETag."""
    sha256 = head.metadata.get("sha256")
    return f"sha256:{sha256}" if sha256 else f"etag:{head.etag}"


def sync_source(store: Store, key: str, *, catalog: Catalog | None = None,
                tmp_dir: str | None = None, clock: revisions.Clock = revisions.utc_now) -> LakeResult:
    """Bring the partition of bronze `key` in step with it (see the module docstring).

    If the source changed while it was converted (another conversion of the newer version may
    already have finished), it is converted again, so the last write never leaves an old version.
    """
    partition = tables.partition_for_source(key)
    if partition is None:
        return LakeResult("skipped", key)
    for _ in range(STABLE_SOURCE_ATTEMPTS):
        try:
            result, version = _sync_once(store, partition, catalog, tmp_dir, clock)
        except PreconditionFailed:  # another writer replaced the partition first: diff against it
            log_event("lake_partition_moved", source=key)
            continue
        if result.action != "written" or _version_of(store, key) == version:
            return result
        log_event("lake_source_changed", source=key)
    raise LakeFailed(f"{key} kept changing during {STABLE_SOURCE_ATTEMPTS} conversions")


def _version_of(store: Store, key: str) -> str | None:
    try:
        return source_version(store.head(key))
    except NotFound:
        return None


def _sync_once(store: Store, partition: Partition, catalog: Catalog | None,
               tmp_dir: str | None, clock: revisions.Clock = revisions.utc_now) -> tuple[LakeResult, str | None]:
    """One pass of `sync_source`: (what happened, the source version it saw)."""
    key = partition.source_key
    try:
        source = store.head(key)
    except NotFound:
        return _delete(store, partition, catalog), None
    version = source_version(source)
    try:
        silver: ObjectHead | None = store.head(partition.key)
    except NotFound:
        silver = None
    if silver is not None and silver.metadata.get("source-version") == version:
        if partition.table == tables.BLS_DATA and silver.metadata.get("revisions"):  # finish a crashed step 3
            revisions.tidy(store, partition.survey, partition.file, silver.metadata["revisions"],
                           silver.metadata.get("previous-version") or None, silver.metadata.get("previous-vintage"))
        return LakeResult("unchanged", key, partition.key), version
    if partition.table == tables.BLS_DATA:
        return _sync_data(store, partition, source, version, silver, catalog, tmp_dir, clock), version
    started = time.monotonic()
    with tempfile.TemporaryFile(dir=tmp_dir) as spool:
        try:
            rows = _convert(store, partition, spool)
        except PipelineError as error:
            log_error("lake_failed", error, source=key)
            raise LakeFailed(f"{key}: not converted, the silver layer keeps its previous state: {error}") from error
        digest = _sha256(spool)  # lets readers check a downloaded copy (lake.read's cache)
        store.put(partition.key, spool, content_type=PARQUET_CONTENT_TYPE,
                  metadata={"source-key": key, "source-version": version, "rows": str(rows), "sha256": digest})
    if catalog is not None:
        catalog.add(partition)
    seconds = round(time.monotonic() - started, 3)
    log_event("lake_written", source=key, partition=partition.key, rows=rows, seconds=seconds)
    return LakeResult("written", key, partition.key, rows, seconds), version


def _sha256(spool: IO[bytes]) -> str:
    """The SHA-256 of the spooled file; leaves it at its start."""
    spool.seek(0)
    digest = hashlib.sha256()
    while chunk := spool.read(1024 * 1024):
        digest.update(chunk)
    spool.seek(0)
    return digest.hexdigest()


def _sync_data(store: Store, partition: Partition, source: ObjectHead, version: str, silver: ObjectHead | None,
               catalog: Catalog | None, tmp_dir: str | None, clock: revisions.Clock) -> LakeResult:
    """A data file: convert, record its revisions, then publish the partition (revisions.py's protocol).

    Raises PreconditionFailed when another writer replaced the partition meanwhile (its revisions
    object is then deleted; `sync_source` starts again from the new partition).
    """
    key = partition.source_key
    started = time.monotonic()
    stamp = revisions.stamp_version(source, silver, clock)
    with tempfile.TemporaryDirectory(dir=tmp_dir) as folder:
        new_path = Path(folder) / "new.parquet"
        with open(new_path, "wb") as spool:
            try:
                rows = _convert(store, partition, spool, vintage=stamp.vintage)
            except PipelineError as error:
                log_error("lake_failed", error, source=key)
                raise LakeFailed(f"{key}: not converted, the silver layer keeps its previous state: {error}") from error
        prepared = revisions.prepare(store, partition.survey, partition.file, new_path=new_path, version=version,
                                     previous=silver, stamp=stamp, workdir=Path(folder))
        if catalog is not None:  # registered before the partition is written: a retry after a crash finds
            catalog.add(partition)  # the partition current ("unchanged") and would not register them
            catalog.add(prepared.partition)
        condition: dict[str, Any] = {"if_match": silver.etag} if silver is not None else {"if_none_match": True}
        try:
            with open(new_path, "rb") as body:
                digest = _sha256(body)  # lets readers check a downloaded copy (lake.read's cache)
                store.put(partition.key, body, content_type=PARQUET_CONTENT_TYPE, **condition,
                          metadata={"source-key": key, "source-version": version, "rows": str(rows),
                                    "sha256": digest, **prepared.partition_metadata})
        except PreconditionFailed:
            revisions.abandon(store, prepared)
            raise
    revisions.finish(store, prepared)
    seconds = round(time.monotonic() - started, 3)
    log_event("lake_written", source=key, partition=partition.key, rows=rows, seconds=seconds)
    return LakeResult("written", key, partition.key, rows, seconds)


def _delete(store: Store, partition: Partition, catalog: Catalog | None) -> LakeResult:
    if not store.exists(partition.key):
        return LakeResult("absent", partition.source_key)
    store.delete_many([partition.key])
    if catalog is not None:
        catalog.drop(partition)
    log_event("lake_deleted", source=partition.source_key, partition=partition.key)
    return LakeResult("deleted", partition.source_key, partition.key)


def _convert(store: Store, partition: Partition, out: IO[bytes], *, vintage: datetime | None = None) -> int:
    """Write the partition's Parquet to `out`; return its row count (`vintage`: bls_data's column)."""
    if partition.table == tables.POPULATION:
        return write_parquet(out, [_population_frame(store.read(POPULATION_KEY).body)], statistics=("year",))
    if partition.table == tables.BLS_DATA:
        try:
            return _convert_data(store, partition, out, keep_keys=False, vintage=vintage)
        except convert.OutOfOrder:  # not sorted: convert again keeping every key (see convert._UniqueKeys)
            out.seek(0)
            out.truncate()
            return _convert_data(store, partition, out, keep_keys=True, vintage=vintage)
    with store.open(partition.source_key) as stream:
        return write_parquet(out, convert.series_row_groups(stream, partition.source_key),
                             statistics=convert.SERIES_STATISTICS)


def _convert_data(store: Store, partition: Partition, out: IO[bytes], *, keep_keys: bool,
                  vintage: datetime | None) -> int:
    with store.open(partition.source_key) as stream:
        groups = convert.data_row_groups(stream, partition.source_key, keep_keys=keep_keys, vintage=vintage)
        return write_parquet(out, groups, convert.DATA_DECIMALS, convert.DATA_STATISTICS)


def _population_frame(body: bytes) -> Any:
    import numpy as np
    import pandas as pd

    records = parse_population(body)
    return pd.DataFrame({
        "year": np.array([r.year for r in records], dtype=np.int32),
        "population": np.array([r.population for r in records], dtype=np.int64),
    })


def reconcile(store: Store, *, catalog: Catalog | None = None, tmp_dir: str | None = None,
              exclude: Iterable[str] = ()) -> list[ReconcileEntry]:
    """`sync_source` for every bronze source and every existing partition (but `exclude`); one entry each
    (a `LakeFailure` for a source that could not be converted: the others still are)."""
    results: list[ReconcileEntry] = []
    for key in sorted(set(_sources(store)) - set(exclude)):
        try:
            results.append(sync_source(store, key, catalog=catalog, tmp_dir=tmp_dir))
        except PipelineError as error:
            results.append(LakeFailure(key, str(error)))
    return results


def _sources(store: Store) -> Iterator[str]:
    seen: set[str] = set()
    for prefix in (*LAKE_SOURCE_PREFIXES, SILVER_PREFIX):
        for info in store.list(prefix):
            partition = tables.partition_for_source(info.key) or tables.partition_for_silver_key(info.key)
            if partition is not None and partition.source_key not in seen:
                seen.add(partition.source_key)
                yield partition.source_key
