"""`demoforge calibrate`: the zero pose, the direction pose and the range of motion, with a person.

The flow, for one arm pair (leader and follower together):

1. Open both buses, check the models, read every motor's own settings (Drive Mode, Operating Mode,
   Secondary ID, Homing Offset, position limits): they go into the file and are checked at every open.
2. Ask the person to hold the follower, then turn torque off on both arms (never before asking: a
   follower under torque drops when released).
3. Zero pose (every joint at 0, grippers closed), then the direction pose (`direction_pose`: every
   joint at a known nonzero value, grippers open): each motor's direction is the sign of its motion
   between the two. A motor that did not move is an error naming it: nothing is guessed.
4. Optionally sample the range of motion for a few seconds (recorded, for the person's reference).

Unattended calibration is refused on real arms (a pose nobody made means nothing). On emulated
arms a `Poser` stands in for the person: it puts the emulated motors into each pose.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np

from demoforge.collect import calibration as cal
from demoforge.collect.calibration_location import calibration_file
from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel.bus import MotorBus
from demoforge.collect.dynamixel.motor_settings import MotorSettings
from demoforge.collect.errors import HardwareError
from demoforge.schemas.rig import Arm, Joint, Rig

MIN_TRAVEL_TICKS = 60  # a motor moving less than this (5°) between the two poses tells nothing
DIRECTION_POSE_RAD = 0.5  # where joints whose start pose is near zero go in the direction pose
SHADOW_ZERO_TOLERANCE = 40  # ticks: a shadow obeying its partner's goals must read what the partner reads


class Poser(Protocol):
    """Puts emulated arms into a named pose (stands in for the person on a virtual rig)."""

    def __call__(self, arm: Arm, pose: dict[str, float]) -> None: ...  # joint name -> value


def direction_pose(joint: Joint) -> float:
    """The joint's value in the direction pose: its start value if clearly nonzero, else half a radian
    toward the side with room; grippers fully open."""
    if joint.kind == "gripper":
        return 1.0
    if abs(joint.start) >= 0.3:
        return joint.start
    lo, hi = joint.limits
    return DIRECTION_POSE_RAD if hi >= DIRECTION_POSE_RAD else -DIRECTION_POSE_RAD if lo <= -0.5 else hi / 2


def _describe_pose(arm: Arm, pose: dict[str, float]) -> str:
    parts = []
    for j in arm.joints:
        v = pose[j.name]
        parts.append(
            f"{j.name} {'open' if v >= 1 else 'closed'}"
            if j.kind == "gripper"
            else f"{j.name} {np.degrees(v):+.0f}°"
        )
    return ", ".join(parts)


def calibrate_arm(
    rig: Rig,
    arm: Arm,
    *,
    ask: Callable[[str], None] | None,
    poser: Poser | None = None,
    range_s: float = 8.0,
    say: Callable[[str], None] = print,
    resolver: Mapping[str, str] | None = None,
    recentre: bool = False,
) -> cal.ArmCalibration:
    """Calibrate both sides of `arm` with a person (`ask` shows a prompt and waits for Enter); on an
    emulated arm `poser` places the motors in each pose (and `ask` may be None: unattended).
    `recentre`: write the Homing Offset that brings a joint whose limits cross the encoder's wrap
    back inside one turn (otherwise such a motor is refused, naming that offset)."""
    if ask is None and not (cal.is_virtual(arm) and poser is not None):
        raise HardwareError(
            f"calibrating arm {arm.name!r} needs a person: its arms are real and an unattended run would "
            "save a pose nobody made",
            "run `demoforge calibrate` in a terminal, without --unattended",
        )
    buses = {}
    for side in cal.SIDES:
        port = getattr(arm, side)
        models = {
            i: (j.leader_model if side == "leader" else j.follower_model)
            for j, i, _ in cal.motor_ids(arm, side)
        }
        buses[side] = MotorBus(
            port.port, models, baudrate=port.baudrate, timeout_ms=port.timeout_ms, resolver=resolver
        )
    try:
        settings: dict[str, dict[int, MotorSettings]] = {}
        for bus in buses.values():
            bus.open()
            bus.check_models()
        if ask:
            ask(
                f"Hold the {arm.name!r} follower arm (and the leader): torque goes off on both when you "
                "press Enter, and a follower under torque drops when released"
            )
        for side, bus in buses.items():
            bus.torque(False)  # the person moves the arms by hand
            # Return Delay Time 0 is recorded, so a motor found at the factory 500 µs later was replaced.
            bus.set_return_delay(0)
            settings[side] = {i: bus.read_settings(i) for i in bus.ids}
        zero_pose = {j.name: 0.0 for j in arm.joints}
        _pose(arm, zero_pose, "zero pose", ask, poser)
        zero = {side: bus.sync_read_state()[2] for side, bus in buses.items()}
        turned = {j.name: direction_pose(j) for j in arm.joints}
        _pose(arm, turned, "direction pose", ask, poser)
        moved = {side: bus.sync_read_state()[2] for side, bus in buses.items()}
        samples: dict[str, list[np.ndarray]] = {side: [zero[side], moved[side]] for side in cal.SIDES}
        if range_s > 0:
            if ask:
                ask(
                    f"Press Enter, then move every joint of both arms through its full range for "
                    f"{range_s:.0f} s"
                )
            say(f"sampling the range of motion for {range_s:.0f} s")
            deadline = time.monotonic() + range_s
            while time.monotonic() < deadline:  # each sample is a bus round trip: no sleep needed
                for side, bus in buses.items():
                    samples[side].append(bus.sync_read_state()[2])
        sides = {
            side: _fit(
                arm,
                side,
                getattr(arm, side).port,
                zero[side],
                moved[side],
                np.array(samples[side]),
                settings[side],
            )
            for side in cal.SIDES
        }
        for side in cal.SIDES:
            sides[side] = _recentre(arm, side, buses[side], sides[side], recentre=recentre, rig=rig, say=say)
    finally:
        for bus in buses.values():
            bus.close()
    result = cal.ArmCalibration(arm.name, sides["leader"], sides["follower"])
    path = calibration_file(rig, arm)
    path.parent.mkdir(parents=True, exist_ok=True)  # the user's config folder may not exist yet
    cal.save(result, path)
    say(f"wrote {path}")
    return result


def _recentre(
    arm: Arm,
    side: str,
    bus: MotorBus,
    motors: cal.SideCalibration,
    *,
    recentre: bool,
    rig: Rig,
    say: Callable[[str], None],
) -> cal.SideCalibration:
    """Motors in Position Control Mode (one turn) whose joint limits cross the 0/4095 wrap: with
    `recentre`, write the Homing Offset that re-centres them (torque is off) and shift their
    calibration by it; otherwise refuse, naming the offset. LeRobot sidesteps the wrap the same way,
    with half-turn homing offsets (src/lerobot/motors/motors_bus.py, `set_half_turn_homings`)."""
    out = dict(motors)
    refused = []
    for j, i, _ in cal.motor_ids(arm, side):
        m = motors[i]
        one_turn = (
            j.follower_mode == "position"
            if side == "follower"
            else m.settings is not None and m.settings.operating_mode == ct.MODE_POSITION
        )
        if not one_turn or not cal.crosses_wrap(m, j):
            continue
        shift = cal.recentring_shift(m, j)
        lo, hi = cal.tick_span(m, j)
        where = f"{side} motor {i} on {bus.port} (joint {j.name!r})"
        if shift is None:
            raise HardwareError(
                f"{where}: its limits span ticks {lo:.0f}..{hi:.0f}, across the encoder's 0/4095 wrap, "
                "and no Homing Offset within ±1024 brings them inside one turn",
                "move the horn by a quarter turn on its spline, or narrow the joint's limits in the rig",
            )
        offset = (m.settings.homing_offset if m.settings is not None else 0) + shift
        if not recentre:
            refused.append(
                f"{where}: limits span ticks {lo:.0f}..{hi:.0f}, across the encoder's 0/4095 wrap "
                f"(Homing Offset {offset} fixes it)"
            )
            continue
        bus.write(i, "homing_offset", offset)
        out[i] = cal.shifted(m, shift)
        say(f"{where}: wrote Homing Offset {offset} (its limits crossed the encoder's 0/4095 wrap)")
    if refused:
        rig_arg = rig.source or rig.name
        raise HardwareError(
            "; ".join(refused)
            + ": a goal past the wrap would turn the motor almost a full turn the wrong way",
            f"run `demoforge calibrate --rig {rig_arg} --arm {arm.name} --recentre` to write those offsets",
        )
    return out


def _pose(
    arm: Arm, pose: dict[str, float], name: str, ask: Callable[[str], None] | None, poser: Poser | None
) -> None:
    if poser is not None:  # emulated arms: nobody can move them by hand
        poser(arm, pose)
    elif ask is not None:
        ask(
            f"Put the {arm.name!r} leader and follower in the {name} ({_describe_pose(arm, pose)}), "
            "then press Enter"
        )


def _wrapped(d: np.ndarray | float) -> np.ndarray:
    return (np.asarray(d, float) + cal.HALF_TURN) % ct.TICKS_PER_REV - cal.HALF_TURN


def _fit(
    arm: Arm,
    side: str,
    port: str,
    zero: np.ndarray,
    moved: np.ndarray,
    samples: np.ndarray,
    settings: dict[int, MotorSettings],
) -> cal.SideCalibration:
    """Per-motor calibration from the zero pose (M,), the direction pose (M,) and range samples (N, M)."""
    motors = cal.motor_ids(arm, side)
    out: cal.SideCalibration = {}
    fix = "calibrate again and move every joint of both arms to the direction pose shown"
    for col, (j, i, _) in enumerate(motors):
        delta = float(_wrapped(moved[col] - zero[col]))
        target = direction_pose(j)
        if abs(delta) < MIN_TRAVEL_TICKS:
            raise HardwareError(
                f"{side} motor {i} on {port} (joint {j.name!r}) moved {abs(delta):.0f} ticks between "
                "the zero pose and the direction pose; its direction cannot be told",
                fix,
            )
        z = int(zero[col]) % ct.TICKS_PER_REV
        direction = 1 if delta * target > 0 else -1
        open_tick = z + round(delta) if j.kind == "gripper" else None
        lo, hi = int(samples[:, col].min()), int(samples[:, col].max())
        out[i] = cal.MotorCalibration(z, direction, open_tick, (lo, hi), settings[i])
    _check_shadows(arm, side, port, out)
    return out


def _check_shadows(arm: Arm, side: str, port: str, motors: cal.SideCalibration) -> None:
    """A motor following another by Secondary ID must follow its own joint's first motor, and read
    the same as it (same direction, same zero): it receives that motor's goals verbatim."""
    ids = [i for _, i, _ in cal.motor_ids(arm, side)]
    first_of = {i: getattr(j, f"{side}_ids")[0] for j, i, _ in cal.motor_ids(arm, side)}
    for i, m in list(motors.items()):
        assert m.settings is not None
        partner = m.settings.follows
        if partner is None or partner not in ids:
            continue  # a Secondary ID naming no motor on this bus changes nothing here
        where = f"{side} motor {i} on {port}"
        if partner != first_of[i] or partner == i:
            raise HardwareError(
                f"{where} obeys motor {partner}'s goals (Secondary ID {partner}), which drives another joint",
                f"set its Secondary ID to 255 (off) or to {first_of[i]}, with torque off (Dynamixel Wizard)",
            )
        p = motors[partner]
        if m.direction != p.direction or abs(float(_wrapped(m.zero - p.zero))) > SHADOW_ZERO_TOLERANCE:
            raise HardwareError(
                f"{where} obeys motor {partner}'s goals (Secondary ID {partner}) but "
                + (
                    "turns the other way"
                    if m.direction != p.direction
                    else f"reads {m.zero} where it reads {p.zero}"
                )
                + ": the two would push against each other",
                "set its Drive Mode to "
                + ("reverse (1)" if not m.settings.reversed else "normal (0)")
                + " or its Secondary ID to 255 (off), with torque off, then calibrate again"
                if m.direction != p.direction
                else "align its Homing Offset with its partner's, or set its Secondary ID to 255 (off)",
            )
        motors[i] = cal.MotorCalibration(m.zero, m.direction, m.open, m.range, m.settings, follows=partner)
