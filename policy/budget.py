"""When a time-budgeted training run stops.

A budget in minutes suits a fast machine and starves a slow one: on a 2-core CPU without bf16 the
demo's 9 minutes gave 1,236 steps of the `cpu` preset, below the 2,000 it needs for a success rate that
means anything (benchmarks/RESULTS.md, "The demo"). With a cap, a run that would end below
`train.min_steps` goes on to exactly `min_steps`, but only when its measured rate gets there before
the cap: a run that cannot make it stops at the budget, as it would have, rather than spend the extra
time for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from demoforge.policy.health import projected_steps


@dataclass
class Budget:
    """Stop at `soft_s` of wall time; or, stretched, at `min_steps` after it and never after `cap_s`.

    Wall times count the whole run (a resumed run's earlier time included), as `train(budget_s=)`."""

    soft_s: float | None
    cap_s: float | None = None
    min_steps: int = 0
    total_steps: int = 10**9  # the run's own train.steps: below min_steps, no time can reach them
    stretched: bool = False

    def limit_s(self) -> float | None:
        """The wall time in force: the cap once stretched, else the budget (None: no budget)."""
        return self.cap_s if self.stretched else self.soft_s

    def consider(self, step: int, wall_s: float, step_s: float) -> str | None:
        """Stretch when the budget would end below `min_steps` and the cap would not: the sentence that
        says so, once (None otherwise). step_s: seconds of wall time a step takes, all costs included."""
        soft, cap = self.soft_s, self.cap_s
        if self.stretched or soft is None or cap is None or cap <= soft or step >= self.min_steps:
            return None
        if step_s <= 0:
            return None
        at_soft = projected_steps(step, self.total_steps, step_s, soft - wall_s)
        at_cap = projected_steps(step, self.total_steps, step_s, cap - wall_s)
        if at_soft >= self.min_steps or at_cap < self.min_steps:
            return None
        self.stretched = True
        need_min = (wall_s + (self.min_steps - step) * step_s) / 60
        return (
            f"at {1 / step_s:.1f} steps/s the {soft / 60:g}-minute training budget ends near step "
            f"{at_soft:,}, below the {self.min_steps:,} steps the preset needs for a result "
            f"(train.min_steps): training goes on to step {self.min_steps:,}, about {need_min:.0f} minutes "
            f"in all, never past {cap / 60:g}"
        )

    def done(self, step: int, wall_s: float) -> bool:
        """Out of time: past the limit in force, or stretched and both the budget and min_steps are behind."""
        limit = self.limit_s()
        if limit is None:
            return False
        if wall_s >= limit:
            return True
        return self.stretched and self.soft_s is not None and wall_s >= self.soft_s and step >= self.min_steps
