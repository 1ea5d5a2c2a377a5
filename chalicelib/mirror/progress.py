"""How far a mirror run is: files and bytes, shared by all download threads.

`Meter` counts; listeners get a `ProgressSnapshot` on every change (the terminal's
progress bar, in `workstation/`). `heartbeat()` logs a `mirror_progress` line at least
every `interval` seconds while the run lasts (the Lambda's view of a long run).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from chalicelib.core.log import log_event

LOG_INTERVAL = 30.0


@dataclass(frozen=True)
class ProgressSnapshot:
    """The run so far: planned and finished files, bytes received, the survey being worked on."""

    survey: str
    files_planned: int
    files_done: int
    bytes_planned: int  # the listing's sizes of the planned files (0 where the listing has none)
    bytes_received: int
    seconds: float


Listener = Callable[[ProgressSnapshot], None]


class Meter:
    """Thread-safe counters of one mirror run."""

    def __init__(self, listener: Listener | None = None) -> None:
        self._listener = listener
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._survey = ""
        self._files_planned = self._files_done = self._bytes_planned = self._bytes_received = 0

    def plan(self, survey: str, files: int, size: int) -> None:
        """A survey's transfers are about to start."""
        with self._lock:
            self._survey = survey
            self._files_planned += files
            self._bytes_planned += size
        self._tell()

    def add_bytes(self, count: int) -> None:
        """Bytes arrived from the source."""
        with self._lock:
            self._bytes_received += count
        self._tell()

    def file_done(self) -> None:
        """A planned transfer ended (stored, unchanged, failed or pending)."""
        with self._lock:
            self._files_done += 1
        self._tell()

    def snapshot(self) -> ProgressSnapshot:
        """The counters now."""
        with self._lock:
            return ProgressSnapshot(self._survey, self._files_planned, self._files_done, self._bytes_planned,
                                    self._bytes_received, round(time.monotonic() - self._started, 3))

    def _tell(self) -> None:
        if self._listener is not None:
            self._listener(self.snapshot())

    @contextlib.contextmanager
    def heartbeat(self, interval: float = LOG_INTERVAL) -> Iterator[None]:
        """Log `mirror_progress` every `interval` seconds until the block ends (and once at its end)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(interval):
                self._log()

        thread = threading.Thread(target=beat, name="mirror-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self._log()

    def _log(self) -> None:
        snap = self.snapshot()
        rate = snap.bytes_received / snap.seconds if snap.seconds else 0.0
        log_event("mirror_progress", survey=snap.survey, files_done=snap.files_done,
                  files_planned=snap.files_planned, bytes_received=snap.bytes_received,
                  bytes_planned=snap.bytes_planned, bytes_per_second=round(rate), seconds=snap.seconds)


__all__ = ["LOG_INTERVAL", "Listener", "Meter", "ProgressSnapshot"]
