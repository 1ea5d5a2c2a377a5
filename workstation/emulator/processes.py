"""Background processes that outlive the command that started them, stopped by their recorded id.

Each process leads its own process group (`start_new_session`), so stopping it also stops
its children (ministack's Lambda workers). Ids and ports are kept in `state.json` of the
deployment's state folder; `stop` ends exactly those groups.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Background:
    """One started process: its id (= its process group id), the port it serves, its log."""

    name: str
    pid: int
    port: int
    log: str


def start(name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, port: int,
          cwd: Path | None = None) -> Background:
    """Start `argv` detached (own session, output to `log`); returns its record."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Background(name, process.pid, port, str(log))


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of the process group `pgid`."""
    _reap(pgid)
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel whether the group exists
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def stop(background: Background, timeout: float = 5.0) -> None:
    """SIGTERM to the process group, then SIGKILL if anything is left after `timeout`.

    (ministack's graceful shutdown can hang while Lambda workers run; its state is in memory.)
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        if not group_members(background.pid):
            return
        try:
            os.killpg(background.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while group_members(background.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    if left := group_members(background.pid):
        raise RuntimeError(f"{background.name}: processes {left} did not stop")


def _reap(pid: int) -> None:
    """Collect the exit status of `pid` if it is a child of this process (else nothing to do)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.25) -> None:
    """Poll `condition` until it holds; TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class StateFile:
    """`state.json` of a deployment's state folder: the running background processes by name."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "state.json"

    def load(self) -> dict[str, Background]:
        """The recorded processes (empty when there is no state file)."""
        if not self.path.is_file():
            return {}
        return {name: Background(**record) for name, record in json.loads(self.path.read_text()).items()}

    def save(self, processes: Mapping[str, Background]) -> None:
        """Record `processes` (the file is removed when there are none)."""
        if not processes:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({n: asdict(b) for n, b in processes.items()}, indent=2) + "\n")
