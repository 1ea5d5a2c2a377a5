"""The four gold tables written at once: one fastparquet writer thread per table, fed a row group per pass."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.gold import tables
from chalicelib.gold.values import DECIMAL_TYPE, GoldFailed
from chalicelib.lake.parquet import write_parquet

if TYPE_CHECKING:
    import pandas as pd


class TableWriters:
    """One fastparquet writer thread per table, fed one row group per pass."""

    def __init__(self, out: dict[str, Path]) -> None:
        self.out = out
        self.queues: dict[str, queue.Queue[pd.DataFrame | None]] = {t: queue.Queue(maxsize=2) for t in out}
        self.counts: dict[str, int] = {}
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._write, args=(t,), name=f"gold-{t}", daemon=True) for t in out]

    def __enter__(self) -> TableWriters:
        for thread in self.threads:
            thread.start()
        return self

    def put(self, frames: dict[str, pd.DataFrame]) -> None:
        for table, frame in frames.items():
            self._raise()
            self.queues[table].put(frame)

    def rows(self) -> dict[str, int]:
        self._finish()
        return dict(self.counts)

    def __exit__(self, *exc: object) -> None:
        self._finish()

    def _finish(self) -> None:
        for q in self.queues.values():
            if not getattr(q, "closed", False):
                q.put(None)
                q.closed = True  # type: ignore[attr-defined]
        for thread in self.threads:
            thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.errors:
            error = self.errors[0]
            raise error if isinstance(error, GoldFailed) else GoldFailed(f"writing a gold table failed: {error}")

    def _write(self, table: str) -> None:
        source = self.queues[table]

        def frames() -> Iterator[pd.DataFrame]:
            while (frame := source.get()) is not None:
                yield frame

        groups = frames()
        try:
            with open(self.out[table], "wb") as stream:
                decimals = {name: DECIMAL_TYPE for name in tables.DECIMAL_COLUMNS[table]}
                self.counts[table] = write_parquet(stream, groups, decimals)
        except BaseException as error:  # reported to the building thread
            self.errors.append(error)
            for _ in groups:  # keep draining so the builder never blocks
                pass
