"""`ArmBus`: one side (leader or follower) of an arm pair, in joint units, ordered as `Arm.joints`.

Joint units: rad for revolute joints, 0 (closed) .. 1 (open) for grippers. A joint driven by several
motors (ViperX shoulder/elbow with a reverse-mounted shadow) is read from its first motor and written
to all of them, each through its own calibration.

Safety on a fault: when a motor stops answering (or reports a hardware error), the bus goes into
`hold`: it sends nothing further. Every later `write` raises the same `HardwareError` without
touching the bus, so the follower is never driven with stale data. The motors that still answer keep
their last goal with torque on: they stay where they were, instead of dropping under gravity as they
would with torque off. Turning torque off is a separate, explicit step (`torque(False)`), for when
someone is holding the arm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from demoforge.collect import calibration as cal
from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel.bus import MotorBus
from demoforge.collect.errors import HardwareError
from demoforge.schemas.rig import Arm


class ArmSide(Protocol):
    """What the recorder needs from one side of an arm pair (Dynamixel here; a simulated follower too)."""

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...  # (qpos, qvel, effort), (J,) each

    def write(self, goal: np.ndarray) -> None: ...  # (J,) joint goals

    def torque(self, on: bool) -> None: ...

    def close(self) -> None: ...


class ArmBus:
    """One side of an arm pair over a `MotorBus`: read() / write() in joint units.

    Not thread-safe: use each ArmBus from one thread (one thread per bus is fine: they are
    independent serial lines, and waiting for replies releases the GIL).
    """

    def __init__(
        self,
        arm: Arm,
        side: str,
        calibration: cal.ArmCalibration,
        *,
        resolver: Mapping[str, str] | None = None,
        retries: int = 3,
    ) -> None:
        if side not in cal.SIDES:
            raise ValueError(f"side must be 'leader' or 'follower', not {side!r}")
        self.arm, self.side = arm, side
        port = getattr(arm, side)
        motors = cal.motor_ids(arm, side)
        models = {i: (j.leader_model if side == "leader" else j.follower_model) for j, i, _ in motors}
        self.bus = MotorBus(
            port.port,
            models,
            baudrate=port.baudrate,
            timeout_ms=port.timeout_ms,
            retries=retries,
            resolver=resolver,
        )
        side_cal = calibration.side(side)
        per_motor = [side_cal[i] for _, i, _ in motors]
        self._all = cal.Converter.of(per_motor)  # (M,) every motor, for writes
        self._joint_of_motor = np.array([arm.joints.index(j) for j, _, _ in motors])  # (M,)
        self._first = np.array([k for k, (_, _, first) in enumerate(motors) if first])  # (J,)
        self._read = cal.Converter.of([per_motor[k] for k in self._first])  # (J,) first motors
        first_models = [self.bus.models[motors[k][1]] for k in self._first]
        self._effort_scale = np.array([m.effort_scale() for m in first_models]) * np.sign(self._read.scale)
        self._lo = np.array([j.limits[0] for j in arm.joints])
        self._hi = np.array([j.limits[1] for j in arm.joints])
        self.fault: HardwareError | None = None

    @property
    def name(self) -> str:
        return f"{self.arm.name} {self.side}"

    def open(self) -> ArmBus:
        """Open the port, check every motor answers with its model, set return delays to 0."""
        self.bus.open()
        try:
            self.bus.check_models()
            self.bus.set_return_delay(0)
        except BaseException:
            self.bus.close()
            raise
        return self

    def close(self) -> None:
        self.bus.close()

    def __enter__(self) -> ArmBus:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def hold(self, reason: HardwareError) -> None:
        """Stop sending anything: later writes raise `reason` (see the module docstring)."""
        self.fault = reason

    def _guard(self) -> None:
        if self.fault is not None:
            raise self.fault

    def read_ticks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw (current/load, velocity, position) of every motor, (M,) each, in `bus.ids` order."""
        self._guard()
        try:
            return self.bus.sync_read_state()
        except HardwareError as e:
            self.hold(e)
            raise

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(qpos, qvel, effort), (J,) float64 each: joint units, units/s, mA (XL430: % of max load)."""
        current, velocity, position = self.read_ticks()
        first = self._first
        qpos = self._read.to_joint(position[first])
        qvel = self._read.velocity_to_joint(velocity[first])
        effort = current[first] * self._effort_scale
        return qpos, qvel, effort

    def goal_ticks(self, goal: np.ndarray) -> np.ndarray:
        """Goal ticks of every motor for joint goals (clipped to the joint limits), (M,) int64."""
        goal = np.asarray(goal, float)
        if goal.shape != (len(self.arm.joints),) or not np.all(np.isfinite(goal)):
            raise ValueError(f"{self.name}: goal must be {len(self.arm.joints)} finite values, got {goal!r}")
        return self._all.to_ticks(np.clip(goal, self._lo, self._hi)[self._joint_of_motor])

    def write(self, goal: np.ndarray) -> None:
        """Send joint goals (one sync write to every motor, shadows included)."""
        self._guard()
        ticks = self.goal_ticks(goal)
        try:
            self.bus.sync_write_goal(ticks)
        except HardwareError as e:
            self.hold(e)
            raise

    def set_modes(self) -> None:
        """Torque off, then the operating mode of every follower motor from the rig (`follower_mode`).

        Leaders keep their modes: they run with torque off and are only read.
        """
        self._guard()
        self.bus.torque(False)
        if self.side == "follower":
            self.bus.set_operating_modes(
                {i: ct.MODE_BY_NAME[j.follower_mode] for j, i, _ in cal.motor_ids(self.arm, self.side)}
            )

    def torque(self, on: bool) -> None:
        """Torque on (goal = present position first, so nothing jumps) or off."""
        self._guard()
        if on:
            _, _, position = self.read_ticks()
            self.bus.sync_write_goal(position)
        self.bus.torque(on)
