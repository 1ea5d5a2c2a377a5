"""BLS series ids and periods as people type them: the patterns, and one parser each.

Settings (REPORT_SERIES_ID, REPORT_PERIOD, --series, --period) and the web routes
(`?series=`, `?period=`) both parse with these, so a bad value is explained the same way
everywhere: `InvalidCode.message` says what is wrong, `InvalidCode.hint` the accepted form.
"""

from __future__ import annotations

import re

# BLS series ids: a two-letter survey prefix, then letters and digits (PRS30006032).
SERIES_ID_PATTERN = re.compile(r"^[A-Z]{2}[A-Z0-9]{1,28}$")
# BLS periods: months M01-M12 (M13 annual average), quarters Q01-Q04 (Q05 annual
# average), half-years S01-S02 (S03 annual), annual A01.
PERIOD_PATTERN = re.compile(r"^(M(0[1-9]|1[0-3])|Q0[1-5]|S0[1-3]|A01)$")

SERIES_ID_HINT = "a series id is 3-30 letters and digits starting with the survey code, e.g. PRS30006032"
PERIOD_HINT = "use Q01-Q04 (Q05 = annual average), M01-M12 (M13 = annual average), S01-S03 or A01"


class InvalidCode(ValueError):
    """A value that is not a BLS series id (or period): what is wrong, and the accepted form."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}; {hint}")
        self.message = message
        self.hint = hint


def parse_series_id(value: str) -> str:
    """The upper-cased BLS series id; InvalidCode if `value` does not look like one."""
    series_id = value.strip().upper()
    if not SERIES_ID_PATTERN.match(series_id):
        raise InvalidCode(f"{series_id[:40]!r} is not a BLS series id", SERIES_ID_HINT)
    return series_id


def parse_period(value: str) -> str:
    """The upper-cased BLS period; InvalidCode if `value` is not one."""
    period = value.strip().upper()
    if not PERIOD_PATTERN.match(period):
        raise InvalidCode(f"{period[:20]!r} is not a BLS period", PERIOD_HINT)
    return period
