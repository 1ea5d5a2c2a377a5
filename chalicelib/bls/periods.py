"""BLS periods: their codes as packed integers, and the period kinds with their annual codes.

A period is `<kind letter><two digits>`: months `M01`-`M12` (`M13` = annual average),
quarters `Q01`-`Q04` (`Q05` = annual average), half-years `S01`-`S02` (`S03` = annual),
annual `A01`. The reports sum the quarters (`QUARTERS`), optionally with `ANNUAL` (`Q05`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodKind:
    """One kind of period: its letter, its regular periods and the code of its annual value."""

    letter: str
    name: str
    periods: tuple[str, ...]  # the regular periods, in order (no annual value)
    annual: str  # the period holding the annual value (average or total) of this kind

    @property
    def codes(self) -> tuple[str, ...]:
        """Every period of this kind: the regular ones, then the annual one."""
        return (*self.periods, self.annual) if self.annual not in self.periods else self.periods


MONTHLY = PeriodKind("M", "monthly", tuple(f"M{m:02d}" for m in range(1, 13)), "M13")
QUARTERLY = PeriodKind("Q", "quarterly", ("Q01", "Q02", "Q03", "Q04"), "Q05")
SEMIANNUAL = PeriodKind("S", "semiannual", ("S01", "S02"), "S03")
ANNUAL_KIND = PeriodKind("A", "annual", ("A01",), "A01")
PERIOD_KINDS = {kind.letter: kind for kind in (MONTHLY, QUARTERLY, SEMIANNUAL, ANNUAL_KIND)}

QUARTERS = QUARTERLY.periods
ANNUAL = QUARTERLY.annual  # "Q05": the annual average of the quarterly series


def period_kind(period: str) -> PeriodKind | None:
    """The kind of a period text (`Q01` → quarterly); None if it is not a known BLS period."""
    text = period.strip().upper()
    kind = PERIOD_KINDS.get(text[:1])
    return kind if kind is not None and text in kind.codes else None


def period_code(period: str) -> int:
    """The integer a period (`Q01`, `M13`, ...) is packed into in `data_file.Block.period`."""
    raw = period.strip().encode("ascii")
    if not 0 < len(raw) <= 8:
        raise ValueError(f"period {period!r}: 1 to 8 ASCII characters expected")
    return int.from_bytes(raw.ljust(8, b"\0"), "little")


def period_name(code: int) -> str:
    """The period text of a code from `period_code`."""
    return int(code).to_bytes(8, "little").rstrip(b"\0").decode("ascii", "replace")
