"""Write a large BLS data file in exactly the format of `pr.data.0.Current`.

    python bench/generate_bls.py OUT_FILE [--mb 520] [--seed 1]

Header and rows as BLS publishes them: tab-separated, CRLF, `series_id` padded
to 17 characters, `value` right-aligned in 12, periods Q01-Q05 (Q05 = annual
average), footnote codes mostly empty and sometimes `R`. Series are indexes
(3 decimals) or percent changes (1 decimal), as in `pr`; about one in ten series
is annual-only (Q05 rows only), and some series have the same four quarterly
values every year in a rotating order: every year's exact sum ties (float sums may not).
Deterministic for a given seed. The file is for benchmarks: never commit it.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

HEADER = "series_id        \tyear\tperiod\t       value\tfootnote_codes\r\n"
YEARS = range(1995, 2027)


def series_lines(number: int, rng: random.Random, prefix: str = "PRS") -> list[str]:
    """All lines of one series."""
    series_id = f"{prefix}{number:08d}".ljust(17)
    kind = rng.random()
    annual_only = kind < 0.1
    flat = 0.1 <= kind < 0.12
    index = kind >= 0.5  # an index with 3 decimals; otherwise a percent change with 1
    level = rng.randint(50_000, 150_000)
    lines = []
    for year in YEARS:
        quarters = []
        last_year = year == YEARS[-1]
        for quarter in range(1, 5):
            if last_year and quarter > 1:
                break  # the current year is incomplete, as in the real file
            if flat:  # the same four values every year, in a rotating order: exact ties
                base = (100_100, 100_200, 100_300, 100_400) if index else (1, 2, 3, 4)
                scaled = base[(quarter + year) % 4]
            elif index:
                level = max(1_000, level + rng.randint(-3_000, 3_500))
                scaled = level
            else:
                scaled = rng.randint(-300, 300) if rng.random() < 0.98 else rng.randint(-999, 9_999)
            quarters.append(scaled)
        periods = [] if annual_only else [(f"Q{q:02d}", v) for q, v in enumerate(quarters, 1)]
        if not last_year:
            periods.append(("Q05", sum(quarters) // 4))
        for period, scaled in periods:
            text = f"{scaled / 1000:.3f}" if index else f"{scaled / 10:.1f}"
            footnote = "R" if rng.random() < 0.005 else ""
            lines.append(f"{series_id}\t{year}\t{period}\t{text:>12}\t{footnote}\r\n")
    return lines


def generate(path: Path, megabytes: float, seed: int = 1, prefix: str = "PRS", first: int = 30_000_000) -> int:
    """Write the file (series ids `prefix` + 8 digits from `first`); return its size in bytes."""
    rng = random.Random(seed)
    target = int(megabytes * 1024 * 1024)
    written = 0
    number = first
    with open(path, "w", encoding="ascii", newline="") as out:
        out.write(HEADER)
        written += len(HEADER)
        while written < target:
            batch = []
            for _ in range(200):
                batch.extend(series_lines(number, rng, prefix))
                number += 1
            text = "".join(batch)
            out.write(text)
            written += len(text)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=float, default=520.0, help="size in MiB (default 520)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    size = generate(args.out, args.mb, args.seed)
    print(f"wrote {args.out} ({size / 1024 / 1024:.0f} MiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
