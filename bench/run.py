"""Run every benchmark in turn (`make bench`); each prints its own table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = ["mirror_bench.py", "reports_bench.py", "lake_bench.py", "continuation_bench.py"]


def main() -> int:
    """Run the benchmarks one after the other (never in parallel: they measure time)."""
    status = 0
    for script in BENCHMARKS:
        print(f"\n== {script} ==", flush=True)
        status |= subprocess.call([sys.executable, str(HERE / script)])
    return status


if __name__ == "__main__":
    sys.exit(main())
