"""Helpers shared by the benchmarks: one step metered in a fresh process, and the temp-folder gauge.

`measure(command, out, tmp=...)` runs `python bench/common.py --tmp TMP -- command…`: a meter process
whose only child is the step, so `getrusage(RUSAGE_CHILDREN)` gives the step's own CPU time and
peak RSS; wall time is from process start to exit (imports included). While the step runs, the
meter polls the disk use of `tmp` every 50 ms: the files under it plus the unlinked temp files the
step holds open there (found through /proc/<pid>/fd). The step writes its own result, as JSON, to `out`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.05


def temp_bytes(pid: int, tmp: Path, *, deleted_only: bool = False) -> int:
    """Bytes in the files `pid` holds open under `tmp` (temp files are unlinked, so they are found
    through /proc/<pid>/fd, not by listing the folder); only the unlinked ones with `deleted_only`."""
    total = 0
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    for fd in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith(str(tmp)) and (not deleted_only or target.endswith(" (deleted)")):
                total += os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except OSError:
            continue
    return total


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under `folder` (files vanishing meanwhile are skipped)."""
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except OSError:
                continue
    return total


def disk_in_use(pid: int, tmp: Path) -> int:
    """What `tmp` holds for `pid` now: its files, and the unlinked ones `pid` keeps open."""
    return folder_bytes(tmp) + temp_bytes(pid, tmp, deleted_only=True)


def meter(command: list[str], tmp: Path | None) -> dict[str, float]:
    """Run `command`; its wall time, CPU time, peak RSS (this process's only child) and peak use of `tmp`."""
    started = time.perf_counter()
    process = subprocess.Popen(command)
    peak_tmp = 0
    while process.poll() is None:
        if tmp is not None:
            peak_tmp = max(peak_tmp, disk_in_use(process.pid, tmp))
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
            "peak_tmp_mib": peak_tmp / 2**20}


def measure(command: list[str], out: Path, *, tmp: Path | None = None, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> dict[str, object]:
    """Run `command` (a step that writes its JSON result to `out`) under a fresh meter process;
    the meter's figures merged with the step's result."""
    arguments = [sys.executable, __file__, *(["--tmp", str(tmp)] if tmp else []), "--", *command]
    done = subprocess.run(arguments, check=True, capture_output=True, text=True, env=env, cwd=cwd)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), **json.loads(out.read_text())}


def load_average() -> str:
    """The 1-minute load average, as the tables show it."""
    return f"{os.getloadavg()[0]:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description="meter one command (see the module docstring)")
    parser.add_argument("--tmp", type=Path, help="the folder whose disk use to poll")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    print(json.dumps(meter(command, args.tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
