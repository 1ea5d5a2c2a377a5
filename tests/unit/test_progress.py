"""The mirror's progress: the `mirror_progress` heartbeat (chalicelib.mirror.progress) and the terminal bar."""

from __future__ import annotations

import json
import time


def test_progress_is_logged_at_least_every_interval(capsys):
    from chalicelib.mirror.progress import Meter

    def progress_lines() -> list[dict]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines() if '"mirror_progress"' in line]

    meter = Meter()
    meter.plan("pr", 3, 3000)
    beats: list[dict] = []
    with meter.heartbeat(interval=0.05):
        meter.add_bytes(1000)
        meter.file_done()
        # WHEN the block lasts: lines keep coming (waited for, not timed: a busy machine only delays them)
        give_up = time.monotonic() + 60
        while len(beats) < 2 and time.monotonic() < give_up:
            beats += progress_lines()
            time.sleep(0.01)
    lines = beats + progress_lines()
    assert len(beats) >= 2 and len(lines) >= 3  # while the block ran, and one more at its end
    assert {k: lines[-1][k] for k in ("survey", "files_done", "files_planned", "bytes_received", "bytes_planned")} \
        == {"survey": "pr", "files_done": 1, "files_planned": 3, "bytes_received": 1000, "bytes_planned": 3000}


def test_the_terminal_progress_bar_shows_files_bytes_and_rate(capsys):
    from chalicelib.mirror.progress import ProgressSnapshot
    from workstation.progress_bar import ProgressBar

    with ProgressBar() as bar:
        bar.update(ProgressSnapshot("cu", 10, 10, 2 * 1024 * 1024, 2 * 1024 * 1024, 1.0))
    shown = capsys.readouterr().err
    assert "cu 10/10 files" in shown and "2.00M/2.00M" in shown and "B/s" in shown
