"""Periods as small integers, for the gold build's numpy passes (BLS conventions:
`chalicelib.bls.periods.PERIOD_KINDS`).

`PERIODS[i]` is the period code of index i; `KIND[i]` its kind (an index into `KIND_LETTERS`),
`REGULAR[i]` whether it is a sub-annual period (not the kind's published annual one).
`ANNUAL_OF_KIND[k]` is the index of kind k's annual period; `EXPECTED[k]` how many sub-annual
periods a complete year of kind k has (0 for annual series). `UNKNOWN` marks a period no kind has.
"""

from __future__ import annotations

from chalicelib.bls.periods import PERIOD_KINDS

UNKNOWN = 255
KIND_LETTERS = ("M", "Q", "S", "A")
KIND_NAMES = ("monthly", "quarterly", "semiannual", "annual")
PERIODS: list[str] = []
KIND: list[int] = []
REGULAR: list[bool] = []
ANNUAL_OF_KIND: list[int] = []
for _k, _letter in enumerate(KIND_LETTERS):
    _kind = PERIOD_KINDS[_letter]
    for _p in (*_kind.periods, _kind.annual) if _kind.annual not in _kind.periods else _kind.periods:
        PERIODS.append(_p)
        KIND.append(_k)
        REGULAR.append(_p != _kind.annual)
    ANNUAL_OF_KIND.append(PERIODS.index(_kind.annual))
PERIOD_INDEX = {p: i for i, p in enumerate(PERIODS)}
EXPECTED = [len(PERIOD_KINDS[letter].periods) if letter != "A" else 0 for letter in KIND_LETTERS]


def periodicity(kinds: int) -> str:
    """The periodicity of a series from the bit set of its kinds (bit k: `KIND_NAMES[k]`)."""
    present = [name for bit, name in enumerate(KIND_NAMES) if kinds & (1 << bit)]
    if not present:
        return "annual"  # only published annual values (M13/Q05/S03)
    return present[0] if len(present) == 1 else "mixed"
