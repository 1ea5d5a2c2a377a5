"""A local stand-in for the sources: serves files the way download.bls.gov does.

Used by the tests and by `--offline` (the bundled snapshot); `python -m workstation.sourceserver`
serves the snapshot (or a folder) by hand (`--help`). It speaks
HTTP/1.1 with keep-alive on 127.0.0.1, renders directories in the BLS (IIS)
listing format, sends `Last-Modified` and an `ETag`, answers `If-None-Match` (or, without it,
`If-Modified-Since`) with 304, and, like BLS, answers 403 to a User-Agent without a contact address.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_CONTACT = re.compile(r"[^@\s()]+@[^@\s()]+\.[A-Za-z]{2,}|https?://\S+")


@dataclass
class Resource:
    """One published file."""

    body: bytes
    last_modified: datetime
    content_type: str = "text/plain"


@dataclass
class RequestRecord:
    """What the server saw of one request (for assertions)."""

    method: str
    path: str
    headers: dict[str, str]
    status: int = 0
    at: float = field(default_factory=time.monotonic)  # when the request arrived


@dataclass
class SourceServer:
    """Publish files and BLS-style directory listings on a free local port."""

    require_contact: bool = True
    resources: dict[str, Resource] = field(default_factory=dict)
    listings: dict[str, str] = field(default_factory=dict)  # path -> HTML override
    requests: list[RequestRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # publishing
    def publish(self, path: str, body: bytes, last_modified: datetime | None = None,
                content_type: str = "text/plain") -> None:
        """Serve `body` at `path` (e.g. `/pub/time.series/pr/pr.series`)."""
        when = (last_modified or datetime.now(UTC)).replace(microsecond=0)
        with self._lock:
            self.resources[path] = Resource(body, when, content_type)

    def unpublish(self, path: str) -> None:
        """Stop serving `path` (404 from now on)."""
        with self._lock:
            self.resources.pop(path, None)

    def publish_folder(self, directory: str, folder: str | Path,
                       times: dict[str, datetime] | None = None) -> None:
        """Serve every file of `folder` under the directory URL path `directory` (ending in '/')."""
        times = times or {}
        for item in sorted(Path(folder).iterdir()):
            if item.is_file():
                when = times.get(item.name) or datetime.fromtimestamp(item.stat().st_mtime, UTC)
                self.publish(directory + item.name, item.read_bytes(), when)

    def clear_directory(self, directory: str) -> None:
        """Unpublish every file directly in `directory`."""
        with self._lock:
            for path in [p for p in self.resources if p.rsplit("/", 1)[0] + "/" == directory]:
                del self.resources[path]

    def listing_html(self, directory: str) -> str:
        """The directory's listing, byte-compatible with download.bls.gov's IIS format (sub-directories
        first, as `<dir>` rows)."""
        with self._lock:
            files = sorted(
                (p, r) for p, r in self.resources.items() if p.rsplit("/", 1)[0] + "/" == directory
            )
            subdirectories = sorted({
                p[len(directory):].split("/", 1)[0] for p in self.resources
                if p.startswith(directory) and "/" in p[len(directory):]
            })
        parent = directory.rstrip("/").rsplit("/", 1)[0] + "/"
        host = "download.bls.gov"
        rows = [f'<A HREF="{parent}">[To Parent Directory]</A><br><br>']
        for name in subdirectories:
            rows.append(f'{"8/12/2026":>10} {"8:30 AM":>8} {"&lt;dir&gt;":>12} <A HREF="{directory}{name}/">{name}</A><br>')
        for path, resource in files:
            stamp = resource.last_modified
            date = f"{stamp.month}/{stamp.day}/{stamp.year}"
            hour = stamp.hour % 12 or 12
            clock = f"{hour}:{stamp.minute:02d} {'AM' if stamp.hour < 12 else 'PM'}"
            name = path.rsplit("/", 1)[1]
            rows.append(f'{date:>10} {clock:>8} {len(resource.body):>12} <A HREF="{path}">{name}</A><br>')
        return (
            f"<html><head><title>{host} - {directory}</title></head><body><H1>{host} - {directory}</H1><hr>\n\n"
            f"<pre>{''.join(rows)}</pre><hr></body></html>"
        )

    # serving
    def start(self, port: int = 0) -> str:
        """Start serving in a daemon thread (on `port`, default a free one); returns the base URL."""
        server = self

        class Handler(_Handler):
            source = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        # A short poll interval: stop() waits for the next poll (0.5 s by default, per test).
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` of the running server."""
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> SourceServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many requests were seen (optionally by method and path prefix)."""
        with self._lock:
            return sum(
                1 for r in self.requests
                if (method is None or r.method == method) and r.path.startswith(path_prefix)
            )

    def reset_counts(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests.clear()

    def fault(self, record: RequestRecord, handler: _Handler) -> bool:
        """Hook for tests: handle the request abnormally and return True, or return False."""
        return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    source: SourceServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def send_body(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                  head: bool = False) -> None:
        """Send a complete response with Content-Length."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        path = urlsplit(self.path).path
        record = RequestRecord(self.command, path, dict(self.headers.items()))
        source = self.source
        with source._lock:
            source.requests.append(record)
        if source.fault(record, self):
            return
        if source.require_contact and not _CONTACT.search(self.headers.get("User-Agent", "")):
            record.status = 403
            self.send_body(403, b"<html><body>Access Denied: please identify yourself with a contact "
                                b"in the User-Agent</body></html>", {"Content-Type": "text/html"}, head)
            return
        with source._lock:
            resource = source.resources.get(path)
            override = source.listings.get(path)
            is_directory = path.endswith("/") and any(p.startswith(path) for p in source.resources)
        if override is not None or (resource is None and is_directory):
            record.status = 200
            html = override if override is not None else source.listing_html(path)
            self.send_body(200, html.encode(), {"Content-Type": "text/html"}, head)
            return
        if resource is None:
            record.status = 404
            self.send_body(404, b"Not Found", {"Content-Type": "text/plain"}, head)
            return
        stamp = email.utils.format_datetime(resource.last_modified, usegmt=True)
        validators = {"Last-Modified": stamp, "ETag": entity_tag(resource)}
        if _not_modified(self.headers, resource, validators["ETag"]):
            record.status = 304
            self.send_body(304, b"", validators, head=True)
            return
        record.status = 200
        self.send_body(200, resource.body, {"Content-Type": resource.content_type, **validators}, head)


def entity_tag(resource: Resource) -> str:
    """The resource's ETag: like IIS's, it changes with the file's time as well as its bytes."""
    stamp = email.utils.format_datetime(resource.last_modified, usegmt=True)
    return '"' + hashlib.sha256(stamp.encode() + resource.body).hexdigest()[:16] + '"'


def _not_modified(headers: Any, resource: Resource, etag: str) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if (tags := headers.get("If-None-Match")) is not None:
        return etag in (t.strip().removeprefix("W/") for t in tags.split(",")) or tags.strip() == "*"
    since = headers.get("If-Modified-Since")
    try:
        return bool(since) and resource.last_modified <= email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    """`python -m workstation.sourceserver`: serve the bundled snapshot (or a folder) until Ctrl-C."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(
        prog="python -m workstation.sourceserver",
        description="Serve files on 127.0.0.1 the way download.bls.gov does (IIS listings, Last-Modified, "
                    "ETag, 304s, 403 without a contact in the User-Agent). Without FOLDER: the bundled "
                    "snapshot (BLS pr directory and the DataUSA population response), as `--offline` uses it.",
    )
    parser.add_argument("folder", nargs="?", help="serve the files of this folder instead of the snapshot")
    parser.add_argument("--path", default="/pub/time.series/pr/",
                        help="URL directory path of FOLDER's files (default /pub/time.series/pr/)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    if args.folder:
        if not Path(args.folder).is_dir():
            parser.error(f"{args.folder} is not a folder")
        args.path = "/" + args.path.strip("/") + "/"
        server = SourceServer()
        server.publish_folder(args.path, args.folder)
        urls = [f"BLS_SOURCE_URL={{base}}{args.path}"]
    else:
        from workstation.snapshot import (
            SNAPSHOT_BLS_PATH,
            SNAPSHOT_POPULATION_PATH,
            snapshot_server,
        )

        server = snapshot_server()
        urls = [f"BLS_SOURCE_URL={{base}}{SNAPSHOT_BLS_PATH}", f"POPULATION_API_URL='{{base}}{SNAPSHOT_POPULATION_PATH}'"]
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    base = server.start(args.port)
    print(f"serving at {base} (Ctrl-C stops); point the pipeline at it with:", flush=True)
    for url in urls:
        print("  " + url.format(base=base), flush=True)
    stopped.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
