"""A SourceServer that misbehaves on request: the faults a real source shows, in a test process.

`server.inject(path, "truncate", "503", ...)` queues faults for a path; each
request to that path consumes one (then the server answers normally again).
`server.always(path, "truncate")` repeats a fault for every request.

Faults:
- `"500"`, `"502"`, `"503"`: that status with a short body.
- `"429"`: Too Many Requests with `Retry-After: <retry_after>`.
- `"truncate"`: the full Content-Length, half the body, then the connection closes.
- `"overlong"`: no Content-Length, the body plus extra bytes, then the connection closes.
- `"reset"`: the connection is reset (RST) before any response.
- `"reset_mid"`: headers and half the body, then a reset.
- `"slow"`: waits `slow_seconds` before answering normally.
- `"hold"`: waits until `server.release()` (at most `hold_seconds`), then answers normally: a
  request kept in flight for as long as the test needs, without guessing a duration.
- `"garbage"`: 200 with bytes that are not an HTML listing.
- `"cut"`: no Content-Length, the first half of the body (or listing page), then the
  connection closes: a body cut short that HTTP alone cannot tell from a complete one.
- `"gzip_bomb"`: 200 with `Content-Encoding: gzip` whatever was asked: 64 MiB of zeros in 64 KiB.
- `"304_bare"`: 304 Not Modified without ETag or Last-Modified (a stale cache or replica).

`server.redirect(path, location)` answers every request to `path` with 302 to `location`.
- `"endless"`: no Content-Length, bytes until the client stops reading (at most `endless_bytes`).
- `"trickle"`: the full Content-Length, then one byte every `trickle_seconds`.
"""

from __future__ import annotations

import functools
import socket
import struct
import threading
import time
import zlib
from collections import defaultdict

from workstation.sourceserver import RequestRecord, SourceServer

GARBAGE = b"\x1f\x8b\x08\x00 this is not a listing \x00\xff\xfe"
BOMB_SIZE = 64 * 1024 * 1024


@functools.cache
def gzip_bomb() -> bytes:
    """BOMB_SIZE zero bytes, gzip-compressed (about 64 KiB), made 1 MiB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    zeros = bytes(1024 * 1024)
    return b"".join(packer.compress(zeros) for _ in range(BOMB_SIZE // len(zeros))) + packer.flush()


class FaultServer(SourceServer):
    """SourceServer with per-path fault queues."""

    def __init__(self, *, retry_after: str = "1", slow_seconds: float = 1.0, endless_bytes: int = 64 << 20,
                 trickle_seconds: float = 0.2, hold_seconds: float = 120.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.hold_seconds = hold_seconds
        self.released = threading.Event()
        self.endless_bytes = endless_bytes
        self.trickle_seconds = trickle_seconds
        self.sent: dict[str, int] = defaultdict(int)  # bytes sent by the endless and trickle faults
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self._queued: dict[str, list[str]] = defaultdict(list)
        self._always: dict[str, str] = {}
        self._redirects: dict[str, str] = {}
        self._fault_lock = threading.Lock()

    def inject(self, path: str, *faults: str) -> None:
        """Queue faults for the next requests to `path`."""
        with self._fault_lock:
            self._queued[path].extend(faults)

    def always(self, path: str, fault: str | None) -> None:
        """Answer every request to `path` with `fault` (None to stop)."""
        with self._fault_lock:
            if fault is None:
                self._always.pop(path, None)
            else:
                self._always[path] = fault

    def redirect(self, path: str, location: str) -> None:
        """Answer every request to `path` with 302 Found to `location`."""
        with self._fault_lock:
            self._redirects[path] = location

    def release(self) -> None:
        """Let the requests held by the `"hold"` fault (and any later ones) be answered."""
        self.released.set()

    def _next_fault(self, path: str) -> str | None:
        with self._fault_lock:
            if self._queued.get(path):
                return self._queued[path].pop(0)
            return self._always.get(path)

    def fault(self, record: RequestRecord, handler) -> bool:
        with self._fault_lock:
            location = self._redirects.get(record.path)
        if location is not None:
            record.status = 302
            handler.send_body(302, b"", {"Location": location})
            return True
        name = self._next_fault(record.path)
        if name is None:
            return False
        record.status = -1  # marks a faulted request in the log
        if name == "slow":
            time.sleep(self.slow_seconds)
            return False
        if name == "hold":
            self.released.wait(self.hold_seconds)
            return False
        if name.isdigit():
            headers = {"Content-Type": "text/plain"}
            if name == "429":
                headers["Retry-After"] = self.retry_after
            record.status = int(name)
            handler.send_body(int(name), b"try again later", headers)
            return True
        if name == "garbage":
            record.status = 200
            handler.send_body(200, GARBAGE, {"Content-Type": "text/html"})
            return True
        if name == "reset":
            _reset(handler)
            return True
        if name == "gzip_bomb":
            record.status = 200
            handler.send_body(200, gzip_bomb(), {"Content-Type": "text/html", "Content-Encoding": "gzip"})
            return True
        if name == "304_bare":
            record.status = 304
            handler.send_body(304, b"", {}, head=True)
            return True
        body = self._body(record.path)
        if name in ("truncate", "reset_mid"):
            handler.send_response(200)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            if name == "reset_mid":
                _reset(handler)
            else:
                handler.close_connection = True
            return True
        if name == "cut":
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html" if record.path.endswith("/") else "text/plain")
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return True
        if name in ("endless", "trickle"):
            self._stream_fault(name, record.path, body, handler)
            return True
        if name == "overlong":
            handler.send_response(200)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body + b"\r\nEXTRA BYTES THE FILE DOES NOT HAVE\r\n")
            handler.wfile.flush()
            handler.close_connection = True
            return True
        raise ValueError(f"unknown fault {name!r}")

    def _stream_fault(self, name: str, path: str, body: bytes, handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        if name == "trickle":
            handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        piece, pause = (b"x" * 65536, 0.0) if name == "endless" else (b"x", self.trickle_seconds)
        limit = self.endless_bytes if name == "endless" else len(body)
        count = 0
        try:
            while count < limit:
                handler.wfile.write(piece)
                handler.wfile.flush()
                count += len(piece)
                self.sent[path] += len(piece)
                time.sleep(pause)
        except OSError:  # the client stopped reading
            pass

    def _body(self, path: str) -> bytes:
        resource = self.resources.get(path)
        if resource is None and path.endswith("/"):
            return (self.listings.get(path) or self.listing_html(path)).encode()
        return resource.body if resource is not None else b"x" * 1000


def _reset(handler) -> None:
    """Close the connection with an RST instead of a FIN."""
    handler.wfile.flush()
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
