"""The mirror's progress bar on a terminal (tqdm): bytes with rate and ETA, files done of planned.

Workstation only: in Lambda the mirror logs `mirror_progress` lines instead.
"""

from __future__ import annotations

import threading
import time

from tqdm import tqdm

from chalicelib.mirror.progress import ProgressSnapshot


class ProgressBar:
    """A tqdm bar fed with `update(snapshot)` from any download thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shown = 0.0
        self._bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, dynamic_ncols=True, leave=True)

    def update(self, snapshot: ProgressSnapshot) -> None:
        """Show the run's state (totals grow as each survey is planned)."""
        with self._lock:
            now = time.monotonic()
            if now - self._shown < 0.2 and snapshot.files_done < snapshot.files_planned:
                return  # at most 5 redraws a second (updates come with every chunk)
            self._shown = now
            self._bar.total = max(snapshot.bytes_planned, snapshot.bytes_received)
            self._bar.n = snapshot.bytes_received
            self._bar.set_description(f"{snapshot.survey} {snapshot.files_done}/{snapshot.files_planned} files",
                                      refresh=False)
            self._bar.refresh()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()
