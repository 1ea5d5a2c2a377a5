"""Background processes of `make deploy-local` (workstation.emulator.processes): start, record, stop."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from workstation.emulator import processes

# A leader that starts a child ignoring SIGTERM (like a stuck worker), then waits.
STUBBORN = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"],
    stdout=sys.stdout)
time.sleep(600)
"""


def test_stop_ends_the_whole_process_group_even_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    # GIVEN a background process whose child ignores SIGTERM
    log = tmp_path / "stubborn.log"
    background = processes.start("stubborn", [sys.executable, "-c", STUBBORN], {}, log, port=0)
    processes.wait_until(lambda: "ready" in log.read_text(), 20, "the child")
    assert len(processes.group_members(background.pid)) == 2
    # WHEN it is stopped with a short grace period
    started = time.monotonic()
    processes.stop(background, timeout=0.5)
    # THEN no member of its group is left (the child was killed after the grace period)
    assert processes.group_members(background.pid) == []
    assert time.monotonic() - started < 10
    processes.stop(background)  # stopping again is harmless


def test_state_file_records_processes_and_disappears_when_none_run(tmp_path: Path) -> None:
    state = processes.StateFile(tmp_path / "state")
    assert state.load() == {}
    records = {"ministack": processes.Background("ministack", 123, 4566, "/x/ministack.log")}
    state.save(records)
    assert state.load() == records
    state.save({})
    assert not state.path.exists() and state.load() == {}


def test_free_port_is_free_and_port_open_sees_a_listener() -> None:
    import socket

    port = processes.free_port()
    assert not processes.port_open(port)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        assert processes.port_open(port)
