"""The mirror's time limits (chalicelib.mirror.budget) and where they come from."""

from __future__ import annotations

import pytest

from chalicelib.core.settings import Settings
from chalicelib.mirror.budget import LAMBDA_FINISH_RESERVE, LAMBDA_START_RESERVE, Deadlines


def test_the_budget_comes_from_the_environment():
    assert Settings.from_env({"MIRROR_TIME_BUDGET": "600"}).mirror_time_budget == 600.0
    assert Settings.from_env({}).mirror_time_budget is None


def test_deadlines_in_lambda_leave_a_reserve_for_the_rest_of_the_invocation():
    deadlines = Deadlines.from_lambda(900_000)
    assert deadlines.can_start()
    assert deadlines.abandon_at - deadlines.start_until == pytest.approx(LAMBDA_START_RESERVE - LAMBDA_FINISH_RESERVE)
    assert not Deadlines.from_lambda(int(LAMBDA_START_RESERVE * 1000) - 1).can_start()
