"""Per-motor calibration: where joint zero is, which way the motor turns, the gripper's travel.

One JSON file per arm next to the rig (`Rig.calibration_path(arm)`)::

    {"schema_version": 1, "arm": "left",
     "leader":   {"1": {"zero": 2048, "direction": 1, "range": [1024, 3072]}, ...},
     "follower": {"7": {"zero": 1900, "direction": 1, "open": 2900, "range": [1880, 2920]}, ...}}

Revolute joints: rad = direction * (tick - zero) * 2π/4096. Grippers: 0 (closed) .. 1 (open),
normalized = (tick - zero) / (open - zero), so `zero` is the closed tick. A joint driven by several
motors (ViperX shoulder/elbow) has an entry per motor; a reverse-mounted shadow has direction -1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.errors import HardwareError
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.rig import Arm, Joint, Rig

SCHEMA_VERSION = 1
SIDES = ("leader", "follower")
IDENTITY_GRIPPER_SPAN = 1024  # ticks from closed to open in the identity calibration (90°)
TICKS_PER_S_PER_UNIT = ct.VELOCITY_UNIT_RPM / 60 * ct.TICKS_PER_REV


@dataclass(frozen=True)
class MotorCalibration:
    zero: int  # tick at joint zero; for a gripper the closed tick
    direction: int = 1  # +1 or -1: sign from joint units to ticks
    open: int | None = None  # grippers: tick when fully open
    range: tuple[int, int] = (0, 4095)  # ticks seen while calibrating

    def ticks_per_unit(self) -> float:
        """Ticks per joint unit (rad, or the full gripper travel), signed."""
        if self.open is not None:
            return float(self.open - self.zero)
        return self.direction / ct.RAD_PER_TICK


SideCalibration = dict[int, MotorCalibration]  # motor id -> calibration


@dataclass(frozen=True)
class ArmCalibration:
    arm: str
    leader: SideCalibration
    follower: SideCalibration

    def side(self, side: str) -> SideCalibration:
        return self.leader if side == "leader" else self.follower


def motor_ids(arm: Arm, side: str) -> list[tuple[Joint, int, bool]]:
    """(joint, motor id, is_first_motor_of_its_joint) for every motor of one side, in joint order."""
    return [(j, i, k == 0) for j in arm.joints for k, i in enumerate(getattr(j, f"{side}_ids"))]


def identity(arm: Arm) -> ArmCalibration:
    """Tick 2048 = 0 rad, direction +1 (-1 for shadow motors), grippers closed at 2048: virtual rigs."""
    sides: dict[str, SideCalibration] = {}
    for side in SIDES:
        sides[side] = {
            i: MotorCalibration(
                zero=ct.CENTER_TICK,
                direction=1 if first else -1,
                open=(ct.CENTER_TICK + (1 if first else -1) * IDENTITY_GRIPPER_SPAN)
                if j.kind == "gripper"
                else None,
            )
            for j, i, first in motor_ids(arm, side)
        }
    return ArmCalibration(arm.name, sides["leader"], sides["follower"])


def is_virtual(arm: Arm) -> bool:
    return arm.leader.port.startswith("emulator:") and arm.follower.port.startswith("emulator:")


def save(calibration: ArmCalibration, path: Path) -> None:
    """Write the calibration file (atomically: a crash never leaves half a file)."""
    doc = {"schema_version": SCHEMA_VERSION, "arm": calibration.arm}
    for side in SIDES:
        doc[side] = {
            str(i): {"zero": m.zero, "direction": m.direction, "range": list(m.range)}
            | ({"open": m.open} if m.open is not None else {})
            for i, m in calibration.side(side).items()
        }
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)


def load(path: Path, arm: Arm) -> ArmCalibration:
    """Read a calibration file and check it covers every motor of `arm`."""
    fix = f"run `demoforge calibrate` for arm {arm.name!r} again"
    try:
        doc = json.loads(path.read_text())
        sides: dict[str, SideCalibration] = {}
        for side in SIDES:
            sides[side] = {
                int(i): MotorCalibration(
                    zero=int(m["zero"]),
                    direction=1 if int(m.get("direction", 1)) >= 0 else -1,
                    open=int(m["open"]) if m.get("open") is not None else None,
                    range=(int(m.get("range", (0, 4095))[0]), int(m.get("range", (0, 4095))[1])),
                )
                for i, m in doc[side].items()
            }
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise ConfigError(f"calibration file {path} cannot be read: {e}", fix) from None
    for side in SIDES:
        for j, i, _ in motor_ids(arm, side):
            if i not in sides[side]:
                raise ConfigError(f"{path}: no calibration for {side} motor {i} (joint {j.name!r})", fix)
            if j.kind == "gripper" and (sides[side][i].open in (None, sides[side][i].zero)):
                raise ConfigError(f"{path}: gripper motor {i} ({side}) has no open position", fix)
    return ArmCalibration(arm.name, sides["leader"], sides["follower"])


def for_arm(rig: Rig, arm: Arm) -> ArmCalibration:
    """The arm's calibration; identity for an emulated arm without a file, else an error telling how."""
    path = rig.calibration_path(arm)
    if path.exists():
        return load(path, arm)
    if is_virtual(arm):
        return identity(arm)
    rig_arg = rig.source or rig.name
    raise HardwareError(
        f"arm {arm.name!r} of rig {rig.name!r} is not calibrated (no {path})",
        f"run `demoforge calibrate --rig {rig_arg} --arm {arm.name}`",
    )


# --- unit conversion (vectorised over the motors of one side) --------------------------------------


@dataclass(frozen=True)
class Converter:
    """Ticks <-> joint units for a list of motors: arrays of zero ticks and ticks per joint unit."""

    zero: np.ndarray  # (M,) float64
    scale: np.ndarray  # (M,) ticks per joint unit, signed

    @classmethod
    def of(cls, motors: list[MotorCalibration]) -> Converter:
        return cls(np.array([m.zero for m in motors], float), np.array([m.ticks_per_unit() for m in motors]))

    def to_joint(self, ticks: np.ndarray) -> np.ndarray:
        return (np.asarray(ticks, float) - self.zero) / self.scale

    def to_ticks(self, joint: np.ndarray) -> np.ndarray:
        """Nearest integer ticks for joint values (int64)."""
        return np.rint(self.zero + np.asarray(joint, float) * self.scale).astype(np.int64)

    def velocity_to_joint(self, raw: np.ndarray) -> np.ndarray:
        """Present Velocity units to joint units per second."""
        return np.asarray(raw, float) * TICKS_PER_S_PER_UNIT / self.scale


# --- the calibration flow (demoforge calibrate) ----------------------------------------------------

MIN_TRAVEL_TICKS = 100  # less motion than this while sampling the range tells nothing


def calibrate_arm(
    rig: Rig,
    arm: Arm,
    *,
    ask: Callable[[str], None] | None,
    range_s: float = 8.0,
    say: Callable[[str], None] = print,
    resolver: Mapping[str, str] | None = None,
) -> ArmCalibration:
    """Calibrate both sides of `arm` with a person (`ask` shows a prompt and waits for Enter) or
    unattended (`ask=None`: the arm is taken to be in the zero pose at the start).

    Zero pose: every joint at 0 rad, grippers closed. Then every joint is moved through its range
    for `range_s` seconds: that gives the ranges, the open gripper position, and the direction of
    each shadow motor relative to its joint's first motor.
    """
    from demoforge.collect.dynamixel.bus import MotorBus

    buses = {}
    for side in SIDES:
        port = getattr(arm, side)
        models = {
            i: (j.leader_model if side == "leader" else j.follower_model) for j, i, _ in motor_ids(arm, side)
        }
        buses[side] = MotorBus(
            port.port, models, baudrate=port.baudrate, timeout_ms=port.timeout_ms, resolver=resolver
        )
    try:
        for bus in buses.values():
            bus.open()
            bus.check_models()
            bus.torque(False)  # the person moves the arms by hand
        if ask:
            ask(
                f"Put the {arm.name!r} leader and follower in the zero pose (joints at 0, grippers closed), "
                "then press Enter"
            )
        zero = {side: bus.sync_read_state()[2] for side, bus in buses.items()}
        if ask:
            ask(
                f"Press Enter, then move every joint of both arms through its full range for {range_s:.0f} s "
                "(open the grippers fully)"
            )
        say(f"sampling the range of motion for {range_s:.0f} s")
        samples: dict[str, list[np.ndarray]] = {side: [] for side in SIDES}
        deadline = time.monotonic() + range_s
        while time.monotonic() < deadline:  # each sample is a bus round trip: no sleep needed
            for side, bus in buses.items():
                samples[side].append(bus.sync_read_state()[2])
    finally:
        for bus in buses.values():
            bus.close()
    sides = {side: _fit(arm, side, zero[side], np.array(samples[side] or [zero[side]])) for side in SIDES}
    result = ArmCalibration(arm.name, sides["leader"], sides["follower"])
    save(result, rig.calibration_path(arm))
    say(f"wrote {rig.calibration_path(arm)}")
    return result


def _fit(arm: Arm, side: str, zero: np.ndarray, samples: np.ndarray) -> SideCalibration:
    """Per-motor calibration from the zero-pose reading (M,) and the range samples (N, M)."""
    motors = motor_ids(arm, side)
    out: SideCalibration = {}
    first_col = 0
    for col, (j, i, first) in enumerate(motors):
        first_col = col if first else first_col
        travel = samples[:, col] - zero[col]
        lo, hi = int(samples[:, col].min()), int(samples[:, col].max())
        direction = 1
        if not first:  # a shadow turns with or against the joint's first motor
            ref = samples[:, first_col] - zero[first_col]
            moved = np.ptp(ref) >= MIN_TRAVEL_TICKS
            direction = (
                (1 if float(np.dot(ref, travel)) > 0 else -1) if moved else -1
            )  # usually reverse-mounted
        open_tick = None
        if j.kind == "gripper":
            far = int(samples[np.argmax(np.abs(travel)), col])
            if abs(far - int(zero[col])) < MIN_TRAVEL_TICKS:
                far = int(zero[col]) + direction * IDENTITY_GRIPPER_SPAN  # not opened: assume 90°
            open_tick = far
        out[i] = MotorCalibration(
            int(zero[col]), direction, open_tick, (min(lo, int(zero[col])), max(hi, int(zero[col])))
        )
    return out
