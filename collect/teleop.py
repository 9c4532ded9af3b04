"""Leader -> follower mapping with the safety clamps applied at every tick.

Joint values are already in joint units (rad; grippers 0 closed .. 1 open) after calibration, so
the mapping is the identity per joint; what this adds is safety: goals are clamped into the
joint limits (less a margin), and no goal moves more than `max_step` from the previous command in
one tick, so a leader glitch or a mis-grab cannot slam a follower across its range.
"""

from __future__ import annotations

import numpy as np

from demoforge.schemas.rig import Rig


class LeaderFollowerMap:
    """Turns leader readings into follower commands; remembers the last command for the step clamp."""

    def __init__(self, rig: Rig) -> None:
        limits = np.asarray(rig.joint_limits, dtype=np.float64)
        margin = np.array(
            [0.0 if j.kind == "gripper" else rig.safety.limit_margin for a in rig.arms for j in a.joints]
        )
        self.low = limits[:, 0] + margin
        self.high = limits[:, 1] - margin
        steps = [1.0 if j.kind == "gripper" else rig.safety.max_step for a in rig.arms for j in a.joints]
        self.max_step = np.asarray(
            steps, dtype=np.float64
        )  # grippers: normalized units, a full stroke per tick
        self.last: np.ndarray | None = None
        self.clamped = False  # the last command was changed by a clamp (recorded per tick)
        self.clamped_ticks = 0  # ticks where a clamp changed the command

    def reset(self, current: np.ndarray) -> None:
        """Start from where the followers are, so the first command is not a jump."""
        self.last = np.clip(np.asarray(current, np.float64), self.low, self.high)

    def __call__(self, leader: np.ndarray) -> np.ndarray:
        goal = np.clip(np.asarray(leader, np.float64), self.low, self.high)
        if self.last is not None:
            goal = np.clip(goal, self.last - self.max_step, self.last + self.max_step)
        self.clamped = not np.array_equal(goal, leader)
        self.clamped_ticks += self.clamped
        self.last = goal
        return goal

    def follow(self, goal: np.ndarray) -> None:
        """A command that did not come from the leaders (start-pose waypoints): nothing was clamped."""
        self.last = goal
        self.clamped = False


def ramp(start: np.ndarray, goal: np.ndarray, max_step: np.ndarray) -> list[np.ndarray]:
    """Waypoints from `start` to `goal` that move no joint more than `max_step` per tick."""
    start = np.asarray(start, np.float64)
    goal = np.asarray(goal, np.float64)
    n = int(np.ceil(np.max(np.abs(goal - start) / max_step))) if len(goal) else 0
    return [start + (goal - start) * (k / n) for k in range(1, n + 1)] if n > 0 else [goal]
