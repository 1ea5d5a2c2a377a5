"""BLS periods: the kinds (months M01-M12, quarters Q01-Q04, half-years S01-S02, annual A01),
each with the code of its annual value (M13, Q05, S03, A01), and periods packed as integers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodKind:
    """A kind of period: its letter, its regular periods in order, the period of its annual value."""

    letter: str
    periods: tuple[str, ...]
    annual: str


PERIOD_KINDS = {kind.letter: kind for kind in (
    PeriodKind("M", tuple(f"M{m:02d}" for m in range(1, 13)), "M13"),
    PeriodKind("Q", ("Q01", "Q02", "Q03", "Q04"), "Q05"),
    PeriodKind("S", ("S01", "S02"), "S03"),
    PeriodKind("A", ("A01",), "A01"),
)}
QUARTERS = PERIOD_KINDS["Q"].periods
ANNUAL = PERIOD_KINDS["Q"].annual  # the annual average of the quarterly series


def period_code(period: str) -> int:
    """The integer a period (`Q01`, `M13`, ...) is packed into in `data_file.Block.period`."""
    raw = period.strip().encode("ascii")
    if not 0 < len(raw) <= 8:
        raise ValueError(f"period {period!r}: 1 to 8 ASCII characters expected")
    return int.from_bytes(raw.ljust(8, b"\0"), "little")


def period_name(code: int) -> str:
    """The period text of a code from `period_code`."""
    return int(code).to_bytes(8, "little").rstrip(b"\0").decode("ascii", "replace")
