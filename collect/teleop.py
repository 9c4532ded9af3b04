"""Leader -> follower mapping with the safety clamps applied at every tick.

Joint values are already in joint units (rad; grippers 0 closed .. 1 open) after calibration, so
the mapping is the identity per joint; what this adds is safety:

- goals are clamped into the joint limits (less a margin);
- a goal moves at most `step` per tick: the joint's speed limit (`speed_limits`: the rig's
  `safety.max_speed`, else 70% of the slowest follower motor's no-load speed) over the control rate,
  so a leader glitch or a mis-grab cannot slam a follower across its range;
- a goal is at most `lead` ahead of the follower's MEASURED position (the reading the loop already
  took last tick: no extra bus transaction), so a blocked or lagging follower never has a goal run
  away from it and then jump when it frees itself.

Grippers have no lead limit (their force is limited by the motor's current limit instead); their speed
limit is `safety.gripper_speed` full strokes per second.
"""

from __future__ import annotations

import numpy as np

from demoforge.collect.dynamixel import control_table as ct
from demoforge.schemas.rig import Rig

SPEED_FRACTION = 0.7  # of the no-load speed: a loaded motor is slower, and the P controller lags


def speed_limits(rig: Rig) -> np.ndarray:
    """Per joint, rad/s a follower goal may move (grippers: full strokes/s), (J,)."""
    out = []
    for arm in rig.arms:
        for j in arm.joints:
            if j.kind == "gripper":
                out.append(rig.safety.gripper_speed)
                continue
            motor = SPEED_FRACTION * ct.model(j.follower_model).no_load_rad_s
            out.append(min(motor, rig.safety.max_speed) if rig.safety.max_speed > 0 else motor)
    return np.array(out)


class LeaderFollowerMap:
    """Turns leader readings into follower commands; remembers the last command for the step clamp."""

    def __init__(self, rig: Rig) -> None:
        limits = np.asarray(rig.joint_limits, dtype=np.float64)
        grippers = np.array([j.kind == "gripper" for a in rig.arms for j in a.joints])
        margin = np.where(grippers, 0.0, rig.safety.limit_margin)
        self.low = limits[:, 0] + margin
        self.high = limits[:, 1] - margin
        # (J,) most a goal moves per tick: the speed limit, never more than the rig's max_step
        speeds = speed_limits(rig)
        self.step = np.where(grippers, speeds / rig.fps, np.minimum(speeds / rig.fps, rig.safety.max_step))
        self.lead = np.where(grippers, np.inf, rig.safety.max_lead)  # (J,) most a goal leads the follower
        self.last: np.ndarray | None = None
        self.clamped = False  # the last command was changed by a clamp (recorded per tick)
        self.clamped_ticks = 0  # ticks where a clamp changed the command

    @property
    def max_step(self) -> np.ndarray:
        return self.step

    def reset(self, current: np.ndarray) -> None:
        """Start from where the followers are, so the first command is not a jump."""
        self.last = np.clip(np.asarray(current, np.float64), self.low, self.high)

    def __call__(self, leader: np.ndarray, measured: np.ndarray | None = None) -> np.ndarray:
        """The follower goal for a leader reading; `measured`: the followers' last reading."""
        goal = self.guard(np.clip(np.asarray(leader, np.float64), self.low, self.high), measured)
        self.clamped = not np.array_equal(goal, leader)
        self.clamped_ticks += self.clamped
        return goal

    def guard(self, goal: np.ndarray, measured: np.ndarray | None) -> np.ndarray:
        """`goal` limited to `lead` around the measured position, then to `step` from the last command.

        In that order, a command never moves more than `step` in a tick, and never further from a
        follower that lags more than `lead` behind it (it comes back toward it at the speed limit)."""
        goal = np.asarray(goal, np.float64)
        if measured is not None:
            goal = np.clip(goal, measured - self.lead, measured + self.lead)
        if self.last is not None:
            goal = np.clip(goal, self.last - self.step, self.last + self.step)
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


def disagreement(leader: np.ndarray, follower: np.ndarray, tolerance: float) -> tuple[int, float] | None:
    """(joint index, difference) of the joint where leader and follower disagree most beyond
    `tolerance`, or None when they agree everywhere (teleop may engage without a jump)."""
    diff = np.abs(np.asarray(leader, float) - np.asarray(follower, float))
    k = int(np.argmax(diff)) if len(diff) else 0
    return (k, float(diff[k])) if len(diff) and diff[k] > tolerance else None
