"""The mirror's time limits, on the monotonic clock.

- `start_until`: no new transfer starts after it (the run budget: `--time-budget`,
  `MIRROR_TIME_BUDGET`, or in Lambda the remaining time less a reserve).
- `abandon_at`: a transfer still running then is abandoned (nothing stored) and
  counted as pending; None lets in-flight transfers finish (the command line).
- `per_file`: seconds one transfer may take (`MIRROR_FILE_DEADLINE`), so a source that
  trickles bytes cannot hold the run; such a file fails and is retried next run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_FILE_DEADLINE = 900.0
# In Lambda: stop starting transfers this long before the timeout, and abandon those
# still running this long before it (state save, the population step, the hand-off).
LAMBDA_START_RESERVE = 240.0
LAMBDA_FINISH_RESERVE = 90.0


@dataclass(frozen=True)
class Deadlines:
    """When transfers may start, when in-flight ones are abandoned, how long one may take."""

    start_until: float | None = None
    abandon_at: float | None = None
    per_file: float = DEFAULT_FILE_DEADLINE
    clock: Callable[[], float] = time.monotonic  # read at each transfer start (`can_start`) and as its bytes arrive
    transfer_clock: Callable[[], float] | None = None  # the deadline's own clock, if not `clock` (tests)

    @classmethod
    def from_budget(cls, seconds: float | None, per_file: float = DEFAULT_FILE_DEADLINE) -> Deadlines:
        """The command line: start nothing after `seconds` (None: no limit); in-flight transfers finish."""
        start = None if seconds is None else time.monotonic() + seconds
        return cls(start_until=start, per_file=per_file)

    @classmethod
    def from_lambda(cls, remaining_ms: int, per_file: float = DEFAULT_FILE_DEADLINE) -> Deadlines:
        """In Lambda, from `context.get_remaining_time_in_millis()`."""
        now, remaining = time.monotonic(), remaining_ms / 1000
        return cls(start_until=now + remaining - LAMBDA_START_RESERVE,
                   abandon_at=now + remaining - LAMBDA_FINISH_RESERVE, per_file=per_file)

    def transfer_now(self) -> float:
        """The time a transfer's deadline is checked against."""
        return (self.transfer_clock or self.clock)()

    def can_start(self) -> bool:
        """True while a new transfer may start."""
        return self.start_until is None or self.clock() < self.start_until

    def file_deadline(self, started: float) -> tuple[float, bool]:
        """(monotonic time the transfer started at `started` must end by, True if that is the run's end)."""
        own = started + self.per_file
        if self.abandon_at is not None and self.abandon_at < own:
            return self.abandon_at, True
        return own, False


UNLIMITED = Deadlines()
