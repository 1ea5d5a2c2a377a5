"""`python -m workstation.emulator.snapshot_server --port N`: serve the bundled snapshot until SIGTERM.

The deployed ingestion reads its sources from here (BLS_SOURCE_URL / POPULATION_API_URL of
the stack), for as long as the local deployment runs. Each request is logged as one line
`request <METHOD> <path>` (the deploy tests count the fetches of each file).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from workstation.snapshot import snapshot_server
from workstation.sourceserver import RequestRecord


def main(argv: list[str] | None = None) -> int:
    """Serve on 127.0.0.1:<port> until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args(argv).port
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    server = snapshot_server()

    lock = threading.Lock()

    def log_request(record: RequestRecord, handler: object) -> bool:
        with lock:  # one whole line per request (the server answers from several threads)
            sys.stdout.write(f"request {record.method} {record.path}\n")
            sys.stdout.flush()
        return False  # served normally

    server.fault = log_request  # type: ignore[method-assign]
    print(f"serving the bundled snapshot at {server.start(port)}", flush=True)
    stopped.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
