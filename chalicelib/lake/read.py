"""Read one series of a data file from the silver layer (the web API's series endpoint).

`silver_selection` answers only when the file's partition is current (made from the version of
the source now in the store); otherwise None, and the caller scans the TSV as before. The
Parquet object is fetched once per ETag into a local cache (Lambda's /tmp survives between
invocations of a warm function), then fastparquet reads only the row groups whose
statistics can hold the series. Values come back as the floats the reports use: exactly the
decimal's shortest text.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from chalicelib.bls.decimals import exact_floats
from chalicelib.core.errors import NotFound, PipelineError
from chalicelib.core.log import log_error
from chalicelib.core.store import Store
from chalicelib.lake import tables
from chalicelib.lake.sync import source_version

CACHE_DIR = Path(tempfile.gettempdir()) / "bls-pipeline-silver"


def silver_selection(store: Store, data_key: str, series_id: str, period: str) -> list[tuple[int, float]] | None:
    """(year, value) of `series_id`/`period` in `data_key`'s partition, by year; None if no current partition."""
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
        return _select(_cached(store, partition.key, silver.etag), series_id, period)
    except (PipelineError, OSError, ValueError) as error:  # unreadable: the TSV still answers
        log_error("silver_read_failed", error, key=partition.key)
        return None


def _cached(store: Store, key: str, etag: str) -> Path:
    path = CACHE_DIR / f"{etag}.parquet"
    if not path.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=CACHE_DIR)
        with os.fdopen(fd, "wb") as out, store.open(key) as stream:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        os.replace(tmp, path)
        for older in CACHE_DIR.glob("*.parquet"):  # one data file is served: keep its latest version only
            if older != path:
                older.unlink(missing_ok=True)
    return path


def _select(path: Path, series_id: str, period: str) -> list[tuple[int, float]]:
    import numpy as np
    from fastparquet import ParquetFile

    # The filter skips row groups by their statistics; the rows are then picked here.
    frame = ParquetFile(str(path)).to_pandas(columns=["series_id", "year", "period", "value"],
                                             filters=[("series_id", "==", series_id)])
    frame = frame[(frame["series_id"] == series_id) & (frame["period"] == period)].sort_values("year", kind="stable")
    # fastparquet turns DECIMAL into value * 10**-scale; rint recovers the stored integer exactly
    # (|value| < 2**53 / 10**scale), and the correctly rounded division gives the exact decimal's float.
    scaled = np.rint(frame["value"].to_numpy(dtype=np.float64) * 10**tables.VALUE_SCALE).astype(np.int64)
    return list(zip(frame["year"].astype(int).tolist(), exact_floats(scaled, tables.VALUE_SCALE)))
