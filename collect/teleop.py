"""Leader -> follower mapping with the safety clamps applied at every tick.

Joint values are already in joint units (rad; grippers 0 closed .. 1 open) after calibration, so
the mapping is the identity per joint; what this adds is safety:

- goals are clamped into the joint limits (less a margin);
- a goal moves at most `step` per tick: the joint's speed limit (`speed_limits`: the rig's
  `safety.max_speed`, else 70% of the slowest follower motor's no-load speed) over the control rate,
  so a leader glitch or a mis-grab cannot slam a follower across its range;
- a goal is at most `lead` ahead of the follower's MEASURED position (the reading the loop already
  took last tick: no extra bus transaction), so a blocked or lagging follower never has a goal run
  away from it and then jump when it frees itself. The lead limit is applied last: when the two
  disagree (a follower pushed away from its goal) the goal moves toward where the follower is,
  never further than `lead` from it;
- the first goal (at start, after a hold, at engagement) comes from the measured position: a
  follower that starts a little outside its limits (up to `lead`) gets the nearest point inside
  them, one further out is refused before anything moves (`outside_limits`).

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

    def reset(self, measured: np.ndarray) -> None:
        """Start from where the followers are measured, so the first command is not a jump (a
        follower just outside its limits starts from the nearest point inside them)."""
        self.last = np.clip(np.asarray(measured, np.float64), self.low, self.high)

    def __call__(self, leader: np.ndarray, measured: np.ndarray | None = None) -> np.ndarray:
        """The follower goal for a leader reading; `measured`: the followers' last reading."""
        goal = self.guard(np.clip(np.asarray(leader, np.float64), self.low, self.high), measured)
        self.clamped = not np.array_equal(goal, leader)
        self.clamped_ticks += self.clamped
        return goal

    def guard(self, goal: np.ndarray, measured: np.ndarray | None) -> np.ndarray:
        """`goal` limited to `step` from the last command, then to `lead` around the measured position.

        In that order the lead limit always holds: a command moves at most `step` a tick, except
        toward a follower that is more than `lead` away from its last command (pushed, or starting
        outside its limits), where it comes to within `lead` of it, i.e. where the follower is."""
        goal = np.asarray(goal, np.float64)
        if self.last is not None:
            goal = np.clip(goal, self.last - self.step, self.last + self.step)
        if measured is not None:
            goal = np.clip(goal, measured - self.lead, measured + self.lead)
        self.last = goal
        return goal

    def follow(self, goal: np.ndarray) -> None:
        """A command that did not come from the leaders (start-pose waypoints): nothing was clamped."""
        self.last = goal
        self.clamped = False


GRIPPER_OUTSIDE = 0.5  # of the stroke: a gripper reading further outside 0..1 is a calibration problem


def outside_limits(rig: Rig, measured: np.ndarray) -> tuple[int, float] | None:
    """(joint index, distance) of the joint furthest outside its limits by more than the rig's
    `max_lead` (grippers: `GRIPPER_OUTSIDE`), or None. Such a joint cannot be brought inside without
    its first goal leading it by more than a goal may: the run is refused before anything moves."""
    limits = np.asarray(rig.joint_limits, dtype=np.float64)
    grippers = np.array([j.kind == "gripper" for a in rig.arms for j in a.joints])
    tolerance = np.where(grippers, GRIPPER_OUTSIDE, rig.safety.max_lead)
    q = np.asarray(measured, np.float64)
    out = np.maximum(limits[:, 0] - q, q - limits[:, 1])  # (J,) > 0 outside
    excess = out - tolerance
    k = int(np.argmax(excess)) if len(q) else 0
    return (k, float(out[k])) if len(q) and excess[k] > 0 else None


# The most a leader joint turns between two readings for the change to count as crossing ±π: 78 rad/s at
# 50 Hz, beyond any hand. A larger change the short way round is no crossing but a jump (a leader put
# somewhere else between episodes, a bad reading): taken as read, it cannot leave a lasting 2π offset.
MAX_WRAP_STEP = np.pi / 2


def unwrap(previous: np.ndarray | None, reading: np.ndarray, revolute: np.ndarray) -> np.ndarray:
    """Leader readings made continuous across ±π for revolute joints (`revolute`, (J,) bool): a waist
    turned past π reads π + x, not -π + x, so its follower stops at its limit instead of sweeping a
    full circle the other way. The first reading (no `previous`) is taken as it is, and so is one
    that moved more than MAX_WRAP_STEP even the short way round."""
    reading = np.asarray(reading, np.float64)
    if previous is None:
        return reading
    step = (reading - previous + np.pi) % (2 * np.pi) - np.pi  # the short way round
    # a reading within π of the last one is kept exactly as read (the episode records it)
    crossing = revolute & (np.abs(reading - previous) > np.pi) & (np.abs(step) <= MAX_WRAP_STEP)
    return np.where(crossing, previous + step, reading)


def disagreement(leader: np.ndarray, follower: np.ndarray, tolerance: float) -> tuple[int, float] | None:
    """(joint index, difference) of the joint where leader and follower disagree most beyond
    `tolerance`, or None when they agree everywhere (teleop may engage without a jump)."""
    diff = np.abs(np.asarray(leader, float) - np.asarray(follower, float))
    k = int(np.argmax(diff)) if len(diff) else 0
    return (k, float(diff[k])) if len(diff) and diff[k] > tolerance else None
