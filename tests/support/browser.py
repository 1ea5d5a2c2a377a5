"""Headless Chromium for the tests: Debian's /usr/bin/chromium (installed by `make browser`), and a minimal
DevTools client over `--remote-debugging-pipe` (no WebSocket library needed) for pages one has to use —
type into a form, wait for a redirect chain, read cookies.

The pipe: Chromium reads DevTools commands from its fd 3 and writes answers and events to its fd 4, each a
JSON message ended by a NUL byte. The client attaches to one page ("flatten" sessions) and sends page
commands with that session's id.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]


def ensure_chromium() -> str:
    """Debian's chromium, installed before pytest runs by `make browser` (which `make test` runs);
    nothing is installed from inside a test. Missing: the test FAILS (never skips) and says how."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (as root: apt-get update && apt-get install -y "
                    "chromium), or `sudo apt-get install -y chromium`; `make test` runs `make browser` first")
    return CHROMIUM


def _above_4(descriptor: int) -> int:
    """The same pipe end on a descriptor above 4 (the child's 3 and 4 are set from it, then it is closed)."""
    moved = fcntl.fcntl(descriptor, fcntl.F_DUPFD, 10)
    os.close(descriptor)
    return moved


class DevToolsError(RuntimeError):
    """A DevTools command failed, or Chromium did not answer in time."""


class Browser:
    """One headless Chromium with a fresh profile and one page; `close()` ends its whole process group."""

    def __init__(self, profile: Path, log: Path, executable: str = CHROMIUM, timeout: float = 30.0) -> None:
        self.timeout, self.log = timeout, log
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        commands_read, answers_write = _above_4(commands_read), _above_4(answers_write)
        with open(log, "wb") as output:
            # bash only to put the pipe ends on Chromium's fds 3 and 4 (exec: no shell stays behind)
            self.process = subprocess.Popen(
                ["/bin/bash", "-c", f'exec "$0" "$@" 3<&{commands_read} 4>&{answers_write} '
                                    f"{commands_read}<&- {answers_write}>&-",
                 executable, *CHROMIUM_FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}",
                 "about:blank"],
                pass_fds=(commands_read, answers_write), stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, start_new_session=True)
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._next_id = 0
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            self.send("Page.enable", session=True)
            self.send("Network.enable", session=True)
        except BaseException:
            self.close()
            raise

    # ---- the protocol ------------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = False) -> dict[str, Any]:
        """One command; its `result` (DevToolsError if it failed or no answer came in time)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise DevToolsError(f"{method}: {answer['error']}")
                return dict(answer.get("result") or {})

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise DevToolsError(f"Chromium did not answer within {self.timeout:.0f} s (log: {self.log})")
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise DevToolsError(f"Chromium closed its DevTools pipe (log: {self.log})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    # ---- a page ------------------------------------------------------------------------------

    def open(self, url: str) -> None:
        self.send("Page.navigate", {"url": url}, session=True)

    def evaluate(self, expression: str) -> Any:
        """The expression's value in the page (JSON-serialisable values only)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session=True)
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression[:80]!r} threw: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60.0, what: str = "") -> Any:
        """Evaluate until the value is truthy (pages navigating in between are retried); that value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
                if last:
                    return last
            except DevToolsError as error:  # the page was replaced while evaluating
                last = str(error)
            time.sleep(0.2)
        where = self.evaluate("location.href")
        raise DevToolsError(f"waited {timeout:.0f} s for {what or expression!r}; last: {last!r}; page: {where}")

    def cookies(self, *urls: str) -> list[dict[str, Any]]:
        """The cookies the browser would send to these URLs (HttpOnly ones too)."""
        return list(self.send("Network.getCookies", {"urls": list(urls)}, session=True)["cookies"])

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (DevToolsError, OSError):
            pass
        for descriptor in (self._commands, self._answers):
            try:
                os.close(descriptor)
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        try:  # its helpers (renderer, GPU, zygote) are in its process group
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
