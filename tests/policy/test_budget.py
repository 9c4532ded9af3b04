"""When a time-budgeted run stops (policy/budget.py), against the rule its docstring states."""

from __future__ import annotations

import math

from hypothesis import assume, given
from hypothesis import strategies as st

from demoforge.policy.budget import Budget


def run(budget: Budget, step_s: float, max_steps: int = 1_000_000) -> int:
    """The step a run at a steady rate stops at, as train.py asks: consider, then done, after each step."""
    step = 0
    while step < max_steps:
        step += 1
        wall = step * step_s
        budget.consider(step, wall, wall / step)
        if budget.done(step, wall):
            return step
    return step


@given(
    step_s=st.floats(0.25, 2.0),
    soft_min=st.floats(0.5, 20.0),
    extra_min=st.floats(0.0, 30.0),
    min_steps=st.integers(1, 5_000),
)
def test_a_budget_stretches_to_min_steps_exactly_when_the_cap_gets_there(
    step_s: float, soft_min: float, extra_min: float, min_steps: int
) -> None:
    soft, cap = soft_min * 60, (soft_min + extra_min) * 60
    # off the knife edges, where float rounding may count one step either way
    assume(abs(soft / step_s - round(soft / step_s)) > 1e-6 and abs(min_steps * step_s - cap) > 1e-6 * cap)
    at_soft = math.ceil(soft / step_s)  # the first step whose wall time reaches the budget
    stopped = run(b := Budget(soft, cap, min_steps), step_s)
    if at_soft >= min_steps:  # the budget alone gives the steps
        assert stopped == at_soft
    elif min_steps * step_s <= cap:  # the cap leaves time for them: exactly min_steps, no more
        assert stopped == min_steps and b.stretched
    else:  # it cannot get there: stops at the budget, as without a cap, no time spent for nothing
        assert stopped == at_soft and not b.stretched
    assert stopped * step_s < cap + step_s  # never a step past the cap


def test_the_stretch_is_said_once_with_the_numbers_a_user_checks() -> None:
    b = Budget(9 * 60, 20 * 60, 2_000)
    note = b.consider(50, 21.5, 0.43)
    assert note == (
        "at 2.3 steps/s the 9-minute training budget ends near step 1,255, below the 2,000 steps the "
        "preset needs for a result (train.min_steps): training goes on to step 2,000, about 14 minutes in "
        "all, never past 20"
    )
    assert b.stretched and b.limit_s() == 20 * 60
    assert b.consider(51, 22.0, 0.43) is None  # said once
    assert not b.done(1_999, 15 * 60) and b.done(2_000, 15 * 60) and b.done(1_500, 20 * 60)
    assert not b.done(2_000, 8 * 60)  # sped up after all: the budget still runs its 9 minutes


def test_without_a_cap_or_a_budget_nothing_stretches() -> None:
    assert Budget(60.0).consider(10, 1.0, 1.0) is None and Budget(60.0).done(10, 60.0)
    assert Budget(60.0, 60.0, 1_000).consider(10, 1.0, 1.0) is None  # a cap equal to the budget
    # a run whose own train.steps end below min_steps: no extra time reaches them
    assert Budget(60.0, 6_000.0, 1_000, total_steps=500).consider(10, 50.0, 1.0) is None
    assert Budget(60.0, 6_000.0, 1_000, total_steps=5_000).consider(10, 50.0, 1.0) is not None
    assert Budget(None, 600.0, 1_000).consider(10, 1.0, 1.0) is None and not Budget(None).done(10**6, 1e9)
