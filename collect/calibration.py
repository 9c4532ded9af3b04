"""Per-motor calibration: where joint zero is, which way the motor turns, the gripper's travel, and
the motor's own settings as they were (checked against the motor at every open).

One JSON file per arm (where: `calibration_location.calibration_file`; per user for a shipped rig)::

    {"schema_version": 2, "arm": "left",
     "leader":   {"1": {"zero": 2048, "direction": 1, "range": [1024, 3072],
                        "motor": {"drive_mode": 0, "operating_mode": 3, "secondary_id": 255,
                                  "homing_offset": 0, "min_position": 0, "max_position": 4095}}, ...},
     "follower": {"7": {"zero": 1900, "direction": 1, "open": 2900, ...}, ...}}

Revolute joints: rad = direction * (tick - zero) * 2π/4096, the tick difference taken within one
turn (a motor in Position Control Mode counts continuously with torque off and snaps back into
0..4095 when torque goes on: both readings give the same joint value). Grippers: 0 (closed) .. 1
(open), normalized = (tick - zero) / (open - zero), so `zero` is the closed tick.

Directions are measured, never assumed: the person puts both arms in the zero pose, then in the
direction pose (`direction_pose`: every joint at a known nonzero value), and each motor's direction
is the sign of its motion between them. That covers vendors' Drive Mode choices (Interbotix
reverses the ViperX shoulder and elbow, not the WidowX's) and reverse-mounted shadow motors. A
shadow whose Secondary ID names its joint's first motor obeys that motor's goals itself: it is
recorded as `follows` and never sent a goal of its own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from demoforge.collect.calibration_location import calibration_file
from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel.motor_settings import MotorSettings
from demoforge.collect.errors import HardwareError
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.rig import Arm, Joint, Rig

SCHEMA_VERSION = 2  # 2: motor settings and `follows` (version 1 files must be redone)
SIDES = ("leader", "follower")
IDENTITY_GRIPPER_SPAN = 1024  # ticks from closed to open in the identity calibration (90°)
TICKS_PER_S_PER_UNIT = ct.VELOCITY_UNIT_RPM / 60 * ct.TICKS_PER_REV
HALF_TURN = ct.TICKS_PER_REV // 2
WRAP_SLACK_TICKS = 2  # how far past 0..4095 a one-turn joint's limits may reach (see `crosses_wrap`)


@dataclass(frozen=True)
class MotorCalibration:
    zero: int  # tick at joint zero; for a gripper the closed tick
    direction: int = 1  # +1 or -1: sign from joint units to ticks
    open: int | None = None  # grippers: tick when fully open
    range: tuple[int, int] = (0, 4095)  # ticks seen while calibrating
    settings: MotorSettings | None = None  # the motor's own settings when calibrated (None: not recorded)
    follows: int | None = None  # Secondary ID: the motor whose goals this one obeys (no goals of its own)

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
                settings=MotorSettings(),  # what the emulator's motors start with
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
            | ({"motor": m.settings.to_json()} if m.settings is not None else {})
            | ({"follows": m.follows} if m.follows is not None else {})
            for i, m in calibration.side(side).items()
        }
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)


def load(path: Path, arm: Arm) -> ArmCalibration:
    """Read a calibration file and check it: its schema version, every motor of `arm` covered, values
    in range, and each shadow's recorded partner (Secondary ID) the first motor of its own joint."""
    fix = f"run `demoforge calibrate` for arm {arm.name!r} again"
    try:
        doc = json.loads(path.read_text())
        version = doc.get("schema_version") if isinstance(doc, dict) else None
        if version != SCHEMA_VERSION:
            raise ConfigError(
                f"calibration file {path} has schema version {version!r}; this demoforge reads "
                f"version {SCHEMA_VERSION}",
                fix + " (older files lack the motor settings checked at every open)",
            )
        sides: dict[str, SideCalibration] = {}
        for side in SIDES:
            sides[side] = {
                int(i): MotorCalibration(
                    zero=int(m["zero"]),
                    direction=int(m.get("direction", 1)),
                    open=int(m["open"]) if m.get("open") is not None else None,
                    range=(int(m.get("range", (0, 4095))[0]), int(m.get("range", (0, 4095))[1])),
                    settings=MotorSettings.from_json(m["motor"]) if "motor" in m else None,
                    follows=int(m["follows"]) if m.get("follows") is not None else None,
                )
                for i, m in doc[side].items()
            }
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        raise ConfigError(f"calibration file {path} cannot be read: {e}", fix) from None
    for side in SIDES:
        for j, i, _ in motor_ids(arm, side):
            if i not in sides[side]:
                raise ConfigError(f"{path}: no calibration for {side} motor {i} (joint {j.name!r})", fix)
            problem = _value_problem(sides[side][i], j, getattr(j, f"{side}_ids"))
            if problem:
                raise ConfigError(f"{path}: {side} motor {i} (joint {j.name!r}): {problem}", fix)
    return ArmCalibration(arm.name, sides["leader"], sides["follower"])


def _value_problem(m: MotorCalibration, j: Joint, joint_ids: tuple[int, ...]) -> str | None:
    """What is wrong with one motor's recorded values, in words (None: nothing)."""
    top = ct.TICKS_PER_REV - 1
    if not 0 <= m.zero <= top:
        return f"zero {m.zero} is outside 0..{top}"
    if m.direction not in (1, -1):
        return f"direction {m.direction} is not 1 or -1"
    if m.range[0] > m.range[1]:
        return f"range {list(m.range)} runs backwards"
    if j.kind == "gripper" and (m.open is None or m.open == m.zero):
        return "gripper has no open position"
    if m.open is not None and abs(m.open - m.zero) >= ct.TICKS_PER_REV:
        return f"gripper travel {m.zero}..{m.open} is more than a turn"
    s = m.settings
    if s is not None and not (0 <= s.min_position <= s.max_position <= top):
        return f"recorded position limits {s.min_position}..{s.max_position} are not inside 0..{top}"
    if (
        s is not None
        and abs(s.homing_offset) > ct.HOMING_OFFSET_LIMIT_POSITION
        and s.operating_mode == ct.MODE_POSITION
    ):
        return f"recorded Homing Offset {s.homing_offset} is beyond the ±1024 Position Control Mode applies"
    if m.follows is not None and (m.follows != joint_ids[0] or len(joint_ids) < 2):
        return f"recorded as following motor {m.follows}, which is not the first motor of its joint"
    return None


# --- the encoder's wrap: goals must stay inside one continuous turn --------------------------------


def tick_span(m: MotorCalibration, joint: Joint) -> tuple[float, float]:
    """The ticks a motor is sent for the joint's whole limit interval (low, high)."""
    a, b = (m.zero + v * m.ticks_per_unit() for v in joint.limits)
    return (a, b) if a <= b else (b, a)


def crosses_wrap(m: MotorCalibration, joint: Joint) -> bool:
    """The joint's limits reach past tick 0 or 4095: in Position Control Mode (one turn, 0..4095) a
    goal there cannot be sent without wrapping, and a wrapped goal turns the motor the long way round."""
    lo, hi = tick_span(m, joint)
    # A joint limited at +-pi around tick 2048 reaches 0 and 4096, the same point: goals there are
    # clamped by a tick or two into 0..4095, no wrong-way turn, so that much is allowed.
    return lo < -WRAP_SLACK_TICKS or hi > ct.TICKS_PER_REV - 1 + WRAP_SLACK_TICKS


def recentring_shift(m: MotorCalibration, joint: Joint) -> int | None:
    """Ticks to add to the motor's Homing Offset so the joint's limits sit inside 0..4095, centred as
    far as the firmware allows (Position Control Mode applies a Homing Offset only within +-1024), or
    None when no allowed offset fits them. Present Position = actual position + Homing Offset
    (LeRobot: src/lerobot/motors/dynamixel/dynamixel.py, `_get_half_turn_homings`)."""
    lo, hi = tick_span(m, joint)
    now = m.settings.homing_offset if m.settings is not None else 0
    limit = ct.HOMING_OFFSET_LIMIT_POSITION
    shift = round(ct.CENTER_TICK - (lo + hi) / 2)
    shift = max(-limit - now, min(limit - now, shift))
    if lo + shift < -WRAP_SLACK_TICKS or hi + shift > ct.TICKS_PER_REV - 1 + WRAP_SLACK_TICKS:
        return None
    return shift


def shifted(m: MotorCalibration, shift: int) -> MotorCalibration:
    """The calibration of a motor after `shift` was added to its Homing Offset (every reading moves)."""
    settings = m.settings or MotorSettings()
    return replace(
        m,
        zero=m.zero + shift,
        open=m.open + shift if m.open is not None else None,
        range=(m.range[0] + shift, m.range[1] + shift),
        settings=replace(settings, homing_offset=settings.homing_offset + shift),
    )


def for_arm(rig: Rig, arm: Arm) -> ArmCalibration:
    """The arm's calibration; identity for an emulated arm without a file, else an error telling how."""
    path = calibration_file(rig, arm)
    if path.exists():
        return load(path, arm)
    if is_virtual(arm):
        return identity(arm)
    rig_arg = rig.source or rig.name
    raise HardwareError(
        f"arm {arm.name!r} of rig {rig.name!r} is not calibrated (no {path})",
        f"run `demoforge calibrate --rig {rig_arg} --arm {arm.name}`",
    )


def fingerprint(rig: Rig) -> dict[str, str]:
    """arm name -> a short hash of its follower calibration (zero, direction, open per motor): what a
    joint value means on this rig. Stored with the dataset and the checkpoint, compared by `deploy`.
    Simulated rigs have none (their joints mean what the simulation says)."""
    if rig.simulation is not None:
        return {}
    out = {}
    for arm in rig.arms:
        side = for_arm(rig, arm).follower
        motors = sorted((i, m.zero, m.direction, m.open) for i, m in side.items())
        out[arm.name] = hashlib.sha256(json.dumps(motors).encode()).hexdigest()[:16]
    return out


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
        """Joint values; the tick difference is taken within one turn (see the module docstring)."""
        d = np.asarray(ticks, float) - self.zero
        return ((d + HALF_TURN) % ct.TICKS_PER_REV - HALF_TURN) / self.scale

    def to_ticks(self, joint: np.ndarray) -> np.ndarray:
        """Nearest integer ticks for joint values (int64)."""
        return np.rint(self.zero + np.asarray(joint, float) * self.scale).astype(np.int64)

    def velocity_to_joint(self, raw: np.ndarray) -> np.ndarray:
        """Present Velocity units to joint units per second."""
        return np.asarray(raw, float) * TICKS_PER_S_PER_UNIT / self.scale
