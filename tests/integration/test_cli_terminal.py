"""`bls-pipeline` on a terminal (a pseudo-terminal): text log lines there, JSON logs when asked."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.paths import REPO

CLI = "import sys; from workstation.cli import main; sys.exit(main())"


def on_terminal(args: list[str], tmp_path: Path, **env: str) -> tuple[int, list[str]]:
    """Run `bls-pipeline ARGS` with stdin, stdout and stderr on a pseudo-terminal; (status, lines seen)."""
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TERM": "xterm", **env}
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen([sys.executable, "-c", CLI, *args], stdin=child_fd, stdout=child_fd,
                               stderr=child_fd, cwd=REPO, env=environment, close_fds=True)
    os.close(child_fd)
    received = bytearray()
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        received += chunk
    status = process.wait(timeout=120)
    os.close(main_fd)
    text = received.decode("utf-8", errors="replace").replace("\x1b[K", "")
    return status, [line for line in re.split(r"\r\n|\r|\n", text) if line.strip()]


def json_lines(lines: list[str]) -> list[dict]:
    found = []
    for line in lines:
        with contextlib.suppress(ValueError):
            document = json.loads(line)
            if isinstance(document, dict):
                found.append(document)
    return found


def test_on_a_terminal_the_run_prints_text_lines_and_no_json_logs(tmp_path):
    # GIVEN a terminal and LOG_LEVEL=INFO (every event, not only warnings)
    # WHEN `run --offline` runs there
    status, lines = on_terminal(["run", "--offline", "--store", str(tmp_path / "data")], tmp_path,
                                LOG_LEVEL="INFO")
    # THEN the events are short text lines, not JSON, followed by the human result
    assert status == 0
    assert json_lines(lines) == []
    assert any(line.startswith("mirror_run_start (survey=pr, source_url=http://127.0.0.1:") for line in lines)
    assert any(line.startswith("report_produced (report=population_stats, key=reports/population_stats.json")
               for line in lines)
    assert "Store: " + str(tmp_path / "data") + " (local event hand-off)" in lines
    assert any(line.startswith("  Population 2013-2018: mean 322,069,808") for line in lines)


def test_on_a_terminal_only_warnings_and_errors_are_logged_by_default(tmp_path):
    # GIVEN an empty store: `analyze` fails for want of its inputs
    status, lines = on_terminal(["analyze", "--store", str(tmp_path / "data")], tmp_path)
    # THEN one human error line, no JSON and no info events
    assert status == 1
    assert json_lines(lines) == []
    assert lines == [f"error: input 'bls/pr/pr.data.0.Current' is not in the store {tmp_path / 'data'}; "
                     "run `bls-pipeline mirror` first"]


@pytest.mark.parametrize("args, env", [([], {"LOG_FORMAT": "json"}), (["--json"], {})],
                         ids=["LOG_FORMAT=json", "--json"])
def test_json_logs_on_a_terminal_when_asked(tmp_path, args, env):
    status, lines = on_terminal(["analyze", "--store", str(tmp_path / "data"), *args], tmp_path, **env)
    assert status == 1
    assert [(d.get("event"), d.get("level")) for d in json_lines(lines) if "event" in d] == [
        ("command_failed", "ERROR")]
