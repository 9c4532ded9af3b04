"""`ArmBus`: one side (leader or follower) of an arm pair, in joint units, ordered as `Arm.joints`.

Joint units: rad for revolute joints, 0 (closed) .. 1 (open) for grippers. A joint driven by several
motors (ViperX shoulder/elbow with a reverse-mounted shadow) is read from its first motor and written
to all of them, each through its own calibration, except a shadow that obeys its partner's goals by
Secondary ID: it is never sent a goal of its own (it would receive two, and fight its partner).

Checks at open (`open`), before anything moves: every motor answers with its model, reports no
hardware error, and still has the settings it had when calibrated (Drive Mode, Homing Offset,
Secondary ID; leaders also Operating Mode). A mismatch refuses to run with a message naming the port,
the motor and the fix. The motors' own position limits are read too: goals are clamped into them
before sending, because a motor refuses an out-of-limit goal silently (a sync write has no reply).

Goals never wrap: a joint goal is clipped in joint units and converted in the motor's own continuous
range. A one-turn motor (Position Control Mode, 0..4095) whose joint limits would reach past tick 0 or
4095 is refused at open, naming the Homing Offset that re-centres it (`calibrate --recentre` writes
it); multi-turn motors (current-based position grippers) get goals in the turn they count now.
Profile Velocity is set from the joint's speed limit at open, so the motor itself never moves faster.

Holding where it is (`hold_here`: goal = present position, torque on, later goals not sent): when a
joint's effort stays above its limit for a few reads, or a motor comes within a few degrees of its
temperature limit (read about once a second, in the same sync read as the state), or on request.

Safety on a fault: when a motor stops answering (or reports a hardware error), the bus goes into
`hold`: it sends nothing further. Every later `write` raises the same `HardwareError` without
touching the bus, so the follower is never driven with stale data. The motors that still answer keep
their last goal with torque on: they stay where they were, instead of dropping under gravity as they
would with torque off. Turning torque off is a separate, explicit step (`torque(False)`), for when
someone is holding the arm.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from demoforge.collect import calibration as cal
from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel.bus import MotorBus
from demoforge.collect.dynamixel.motor_health import MotorHealth, effort_limit
from demoforge.collect.dynamixel.motor_settings import MotorSettings, differences
from demoforge.collect.errors import HardwareError
from demoforge.schemas.rig import Arm, Joint

PROFILE_MARGIN = 1.25  # Profile Velocity over the software speed limit: a backstop, not a second brake


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
        gripper_current_ma: float = 0.0,
        speed_limits: np.ndarray | None = None,
        effort_hold_ticks: int = 0,
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
        self.calibration = side_cal
        self.gripper_current_ma = gripper_current_ma
        self._all = cal.Converter.of(per_motor)  # (M,) every motor, for writes
        # Motors that get goals: not the shadows obeying their partner by Secondary ID.
        self._sent = np.array([k for k, m in enumerate(per_motor) if m.follows is None])
        self._sent_ids = [motors[k][1] for k in self._sent]
        self._modes = np.array(
            [
                ct.MODE_BY_NAME[j.follower_mode] if side == "follower" else ct.MODE_POSITION
                for j, _, _ in motors
            ]
        )
        # The motors' own limits (read at open): goals outside them would be refused silently.
        self._tick_lo = np.zeros(len(motors), np.int64)
        self._tick_hi = np.full(len(motors), ct.TICKS_PER_REV - 1, np.int64)
        self._one_turn = self._modes == ct.MODE_POSITION  # goals wrapped into 0..4095
        self.settings: dict[int, MotorSettings] = {}
        self.notes: list[str] = []  # things the operator should know that do not stop the run
        self._joint_of_motor = np.array([arm.joints.index(j) for j, _, _ in motors])  # (M,)
        self._first = np.array([k for k, (_, _, first) in enumerate(motors) if first])  # (J,)
        self._read = cal.Converter.of([per_motor[k] for k in self._first])  # (J,) first motors
        first_models = [self.bus.models[motors[k][1]] for k in self._first]
        self._effort_scale = np.array([m.effort_scale() for m in first_models]) * np.sign(self._read.scale)
        self._lo = np.array([j.limits[0] for j in arm.joints])
        self._hi = np.array([j.limits[1] for j in arm.joints])
        self.fault: HardwareError | None = None
        # Multi-turn modes count whole turns: goals go relative to the motor's present count (M,).
        self._turns = np.zeros(len(motors), np.int64)
        self._counted = False  # `_turns` holds a reading
        # (J,) rad/s (grippers: strokes/s) for Profile Velocity, the firmware's own speed limit
        self.speed_limits = speed_limits
        # |effort| above `effort_limits` (J,) for `effort_hold_ticks` reads in a row holds the arm.
        self.effort_limits = np.array(
            [
                effort_limit(j, first_models[n]) if side == "follower" else np.inf
                for n, j in enumerate(arm.joints)
            ]
        )
        self.effort_hold_ticks = effort_hold_ticks
        self._over = np.zeros(len(arm.joints), np.int64)
        self.held_here: str | None = None  # why the arm holds where it was (`hold_here`), until `resume`
        self.events: list[str] = []  # holds and warnings since the caller last took them
        self.health = MotorHealth(len(motors))

    @property
    def name(self) -> str:
        return f"{self.arm.name} {self.side}"

    def open(self) -> ArmBus:
        """Open the port, check every motor (see the module docstring), set return delays to 0."""
        self.bus.open()
        try:
            self.bus.check_models()
            self.check_motors()
            self.bus.set_return_delay(0)
        except BaseException:
            self.bus.close()
            raise
        return self

    def check_motors(self) -> None:
        """Hardware errors, then each motor's settings against its calibration; refuse on any mismatch."""
        port = self.bus.port
        errors = self.bus.hardware_errors()
        if errors:
            listed = "; ".join(f"motor {i}: {', '.join(names)}" for i, names in errors.items())
            raise HardwareError(
                f"{self.name} on {port} reports hardware errors ({listed}); those motors are limp",
                "remove the cause, then `demoforge devices --rig RIG --reboot` reboots them "
                "(or power-cycle the arm)",
            )
        problems = []
        for k, (j, i, _) in enumerate(cal.motor_ids(self.arm, self.side)):
            found = self.bus.read_settings(i)
            self.settings[i] = found
            expected = self.calibration[i].settings
            where = f"{self.side} motor {i} on {port} (joint {j.name!r})"
            if expected is None:
                problems.append(f"{where}: the calibration file has no motor settings to check")
                continue
            diffs = differences(found, expected, mode=self.side == "leader")
            in_position_mode = ct.MODE_POSITION in (found.operating_mode, self._modes[k])
            if in_position_mode and abs(found.homing_offset) > ct.HOMING_OFFSET_LIMIT_POSITION:
                diffs.append(
                    f"Homing Offset {found.homing_offset} is beyond ±{ct.HOMING_OFFSET_LIMIT_POSITION}, "
                    "which the motor ignores in position mode (set it to 0)"
                )
            if diffs:
                problems.append(f"{where}: {'; '.join(diffs)}")
            if found.drive_mode & ct.DRIVE_MODE_TIME_PROFILE and self.side == "follower":
                problems.append(
                    f"{where}: Drive Mode {found.drive_mode} selects the time-based profile, so the Profile "
                    "Velocity set as a speed limit would be read as a time (set Drive Mode bit 2 to 0)"
                )
            self._tick_lo[k], self._tick_hi[k] = found.min_position, found.max_position
            self.health.temperature_limit[k] = found.temperature_limit
            self.health.min_voltage[k], self.health.max_voltage[k] = found.min_voltage, found.max_voltage
            if self.side == "leader":  # leaders keep their own modes
                self._modes[k] = found.operating_mode
                self._one_turn[k] = found.operating_mode == ct.MODE_POSITION
        if problems:
            raise HardwareError(
                "; ".join(problems),
                "if the motor was changed on purpose, run `demoforge calibrate` for arm "
                f"{self.arm.name!r} again; otherwise write the recorded value back with torque off "
                "(Dynamixel Wizard). Running now could drive the arm the wrong way",
            )
        self._check_wrap()
        self._note_narrow_limits()

    def _check_wrap(self) -> None:
        """Refuse a one-turn motor whose joint limits cross the encoder's 0/4095 wrap (a goal there would
        have to wrap, and the motor would take the long way round), naming the Homing Offset that fixes it."""
        problems, offsets = [], []
        for k, (j, i, _) in enumerate(cal.motor_ids(self.arm, self.side)):
            m = self.calibration[i]
            if not self._one_turn[k] or not cal.crosses_wrap(m, j):
                continue
            lo, hi = cal.tick_span(m, j)
            shift = cal.recentring_shift(m, j)
            now = m.settings.homing_offset if m.settings is not None else 0
            problems.append(
                f"{self.side} motor {i} on {self.bus.port} (joint {j.name!r}): its limits "
                f"[{j.limits[0]:.2f}, {j.limits[1]:.2f}] span ticks {lo:.0f}..{hi:.0f} around zero tick "
                f"{m.zero}, across the encoder's 0/4095 wrap"
            )
            offsets.append(
                f"motor {i}: Homing Offset {now + shift}" if shift is not None else f"motor {i}: none fits"
            )
        if not problems:
            return
        fits = all("none fits" not in o for o in offsets)
        raise HardwareError(
            "; ".join(problems)
            + ": a goal past the wrap would turn the motor almost a full turn the wrong way",
            (
                f"run `demoforge calibrate --arm {self.arm.name} --recentre` (it writes "
                f"{', '.join(offsets)}, within the ±1024 the firmware applies in Position Control Mode, "
                "and calibrates again)"
            )
            if fits
            else "no Homing Offset within ±1024 brings those limits inside one turn: move the horn by a "
            "quarter turn on its spline or narrow the joint's limits in the rig, then calibrate again",
        )

    def _note_narrow_limits(self) -> None:
        """Joints whose rig limits reach past their motors' own limits: goals there get clamped."""
        if self.side != "follower":
            return
        for k, (j, i, _) in enumerate(cal.motor_ids(self.arm, self.side)):
            if not self._one_turn[k] or k not in self._sent:
                continue
            zero, scale = self._all.zero[k], self._all.scale[k]
            lo_t, hi_t = sorted(zero + v * scale for v in j.limits)
            if lo_t >= self._tick_lo[k] - 0.5 and hi_t <= self._tick_hi[k] + 0.5:
                continue
            reach = sorted((t - zero) / scale for t in (self._tick_lo[k], self._tick_hi[k]))
            self.notes.append(
                f"{self.name} joint {j.name!r}: the rig allows [{j.limits[0]:.2f}, {j.limits[1]:.2f}], "
                f"motor {i} on {self.bus.port} stops at [{reach[0]:.2f}, {reach[1]:.2f}]: goals beyond "
                "are clamped to the motor's limits"
            )

    def drivable(self) -> bool:
        """Every motor is in a position mode (a leader can be driven to a pose with torque on)."""
        return all(
            m in (ct.MODE_POSITION, ct.MODE_EXTENDED_POSITION, ct.MODE_CURRENT_POSITION) for m in self._modes
        )

    def close(self) -> None:
        self.bus.close()

    def __enter__(self) -> ArmBus:
        return self if self.bus.is_open else self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def hold(self, reason: HardwareError) -> None:
        """Stop sending anything: later writes raise `reason` (see the module docstring)."""
        self.fault = reason

    def _guard(self) -> None:
        if self.fault is not None:
            raise self.fault

    def read_ticks(self, health: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw (current/load, velocity, position) of every motor, (M,) each, in `bus.ids` order;
        with `health`, the same sync read also brings input voltage and temperature (`self.health`)."""
        self._guard()
        try:
            if health:
                current, velocity, position, volts, temps = self.bus.sync_read_health()
                self.health.update(volts, temps)
            else:
                current, velocity, position = self.bus.sync_read_state()
        except HardwareError as e:
            self.hold(e)
            raise
        self._count_turns(position)
        return current, velocity, position

    def read_position(self) -> np.ndarray:
        """(J,) joint positions only: no health reading taken, nothing judged (checks at open)."""
        _, _, position = self.read_ticks()
        return self._read.to_joint(position[self._first])

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(qpos, qvel, effort), (J,) float64 each: joint units, units/s, mA (XL430: % of max load).

        A follower's reading is also judged (no extra transaction): effort above a joint's limit for
        `effort_hold_ticks` reads in a row, or a motor close to its temperature limit (read about once a
        second, in the same sync read), holds the arm where it is (`hold_here`)."""
        due = self.side == "follower" and self.health.due(time.monotonic())
        current, velocity, position = self.read_ticks(health=due)
        first = self._first
        qpos = self._read.to_joint(position[first])
        qvel = self._read.velocity_to_joint(velocity[first])
        effort = current[first] * self._effort_scale
        if self.effort_hold_ticks > 0:
            self._judge_effort(effort, position)
        if due:
            self._judge_health(position)
        return qpos, qvel, effort

    def _judge_effort(self, effort: np.ndarray, position: np.ndarray) -> None:
        over = np.abs(effort) > self.effort_limits
        self._over = np.where(over, self._over + 1, 0)
        k = int(np.argmax(self._over))
        if self.held_here is None and self._over[k] >= self.effort_hold_ticks:
            j = self.arm.joints[k]
            unit = "mA" if ct.model(j.follower_model).current_unit_ma is not None else "% load"
            self._hold_at(
                position,
                f"{self.name} joint {j.name!r} pushed {abs(effort[k]):.0f} {unit} (limit "
                f"{self.effort_limits[k]:.0f} {unit}) for {self._over[k]} ticks: blocked, or pinning "
                "something; holding where it is",
            )

    def _judge_health(self, position: np.ndarray) -> None:
        ids = self.bus.ids
        for k, text in self.health.warnings():
            self.events.append(f"{self.name} motor {ids[k]} on {self.bus.port}: {text}")
        hot = self.health.too_hot()
        if hot is not None and self.held_here is None:
            t, limit = self.health.temperature[hot], self.health.temperature_limit[hot]
            self._hold_at(
                position,
                f"{self.name} motor {ids[hot]} on {self.bus.port} is at {t} °C, {limit - t} °C below its "
                f"limit ({limit} °C, where it turns its own torque off): holding where it is; rest the "
                "arm and let it cool",
            )

    def hold_here(self, reason: str) -> None:
        """Hold where the arm is now: goal = present position, torque stays on; `write` sends nothing
        until `resume`. One read and one write (for a stop key, a limit, a hot motor)."""
        self._guard()
        _, _, position = self.read_ticks()
        self._hold_at(position, reason)

    def _hold_at(self, position: np.ndarray, reason: str) -> None:
        held = np.where(self._one_turn, np.clip(position, self._tick_lo, self._tick_hi), position)
        try:
            self.bus.sync_write(
                "goal_position", dict(zip(self._sent_ids, held[self._sent].tolist(), strict=True))
            )
        except HardwareError as e:
            self.hold(e)
            raise
        self.held_here = reason
        self._over[:] = 0
        self.events.append(reason)

    def resume(self) -> None:
        """Take goals again after `hold_here` (the caller restarts its goals from the measured position)."""
        self.held_here = None
        self._over[:] = 0

    def take_events(self) -> list[str]:
        """Holds and warnings since the last call, oldest first."""
        out, self.events = self.events, []
        return out

    def goal_ticks(self, goal: np.ndarray) -> np.ndarray:
        """Goal ticks of every motor for joint goals, (M,) int64.

        Clipped in joint units first, then converted in the motor's own continuous range: one-turn
        motors (Position Control Mode) straight to 0..4095, never wrapped (`check_motors` refuses a
        joint whose limits cross the wrap, so none needs it), and clamped into the motor's limits;
        multi-turn motors (current-based or extended position) relative to the turn they count now.
        """
        goal = np.asarray(goal, float)
        if goal.shape != (len(self.arm.joints),) or not np.all(np.isfinite(goal)):
            raise ValueError(f"{self.name}: goal must be {len(self.arm.joints)} finite values, got {goal!r}")
        ticks = self._all.to_ticks(np.clip(goal, self._lo, self._hi)[self._joint_of_motor])
        return np.where(self._one_turn, np.clip(ticks, self._tick_lo, self._tick_hi), ticks + self._turns)

    def _count_turns(self, position: np.ndarray) -> None:
        """Whole turns between each motor's count and its calibration's turn (multi-turn modes)."""
        d = np.asarray(position, float) - self._all.zero
        wrapped = (d + cal.HALF_TURN) % ct.TICKS_PER_REV - cal.HALF_TURN
        self._turns = np.where(self._one_turn, 0, np.rint(d - wrapped)).astype(np.int64)
        self._counted = True

    def write(self, goal: np.ndarray) -> None:
        """Send joint goals: one sync write to every motor but shadows that follow by Secondary ID.
        While the arm holds (`hold_here`) nothing is sent: it stays where it was."""
        self._guard()
        if self.held_here is not None:
            return
        if not self._counted and not self._one_turn.all():
            self.read_ticks()  # multi-turn goals need the motor's present turn
        ticks = self.goal_ticks(goal)
        try:
            self.bus.sync_write(
                "goal_position", dict(zip(self._sent_ids, ticks[self._sent].tolist(), strict=True))
            )
        except HardwareError as e:
            self.hold(e)
            raise

    def set_modes(self) -> None:
        """Torque off where an EEPROM setting must change (always on leaders), then the operating mode of
        every follower motor from the rig (`follower_mode`),
        and the gripper current limit (Current Limit, EEPROM; Goal Current) for current-based
        position grippers. Leaders keep their modes: they are read, and driven only to the start pose.
        """
        self._guard()
        motors = cal.motor_ids(self.arm, self.side) if self.side == "follower" else []
        modes = {i: ct.MODE_BY_NAME[j.follower_mode] for j, i, _ in motors}
        currents = self._gripper_currents(motors)
        # EEPROM (return delay, modes, current limit) is writable only with torque off. A follower left
        # holding a pose (an operator who chose hold at exit) keeps its torque when nothing needs
        # writing: turning it off would drop the arm. Leaders always go limp: a person moves them.
        if self.side != "follower" or self._eeprom_differs(modes, currents):
            self.bus.torque(False)
        self.bus.set_return_delay(0)
        if self.side != "follower":
            return
        self.bus.set_operating_modes(modes)
        for i, units in currents.items():
            if self.bus.read(i, "current_limit") != units:
                self.bus.write(i, "current_limit", units)
            self.bus.write(i, "goal_current", units)
        self._set_profile_velocity(motors)

    def _gripper_currents(self, motors: list[tuple[Joint, int, bool]]) -> dict[int, int]:
        """Current Limit units per current-based position gripper motor (from `gripper_current_ma`)."""
        out = {}
        for j, i, _ in motors:
            model = self.bus.models[i]
            if j.kind != "gripper" or j.follower_mode != "current_position" or model.current_unit_ma is None:
                continue
            if self.gripper_current_ma <= 0:
                continue
            out[i] = min(
                round(self.gripper_current_ma / model.current_unit_ma), model.register("current_limit").hi
            )
        return out

    def _eeprom_differs(self, modes: dict[int, int], currents: dict[int, int]) -> bool:
        return (
            any(self.bus.read(i, "return_delay_time") != 0 for i in self.bus.ids)
            or any(self.bus.read(i, "operating_mode") != m for i, m in modes.items())
            or any(self.bus.read(i, "current_limit") != u for i, u in currents.items())
        )

    def _set_profile_velocity(self, motors: list[tuple[Joint, int, bool]]) -> None:
        """Profile Velocity (112) of every follower motor from the joint's speed limit: the firmware then
        never moves faster, whatever goal arrives. Set after the operating modes: switching mode resets
        it to 0 (= no limit) (ROBOTIS e-manual, X series, Operating Mode(11) note). Units 0.229 rev/min.
        `PROFILE_MARGIN` above the software limit, so the software's own ramp is not slowed."""
        if self.speed_limits is None:
            return
        for j, i, _ in motors:
            k = self.arm.joints.index(j)
            speed = float(self.speed_limits[k])  # rad/s; grippers: strokes/s
            if j.kind == "gripper":
                m = self.calibration[i]
                speed *= abs(m.ticks_per_unit()) * ct.RAD_PER_TICK  # strokes/s -> rad/s
            if not np.isfinite(speed) or speed <= 0:
                continue
            units = math.ceil(speed * PROFILE_MARGIN / ct.RAD_S_PER_VELOCITY_UNIT)
            self.bus.write(
                i, "profile_velocity", min(units, self.bus.models[i].register("profile_velocity").hi)
            )

    def torque(self, on: bool) -> None:
        """Torque on (goal = present position first, so nothing jumps) or off."""
        self._guard()
        if on:
            _, _, position = self.read_ticks()
            position = np.where(self._one_turn, position % ct.TICKS_PER_REV, position)
            held = np.where(self._one_turn, np.clip(position, self._tick_lo, self._tick_hi), position)
            self.bus.sync_write(
                "goal_position", dict(zip(self._sent_ids, held[self._sent].tolist(), strict=True))
            )
        self.bus.torque(on)
