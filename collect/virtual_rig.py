"""The virtual rig: emulated Dynamixel chains for every `emulator:<name>` bus of a rig.

It sits at the rig level (beside calibration and the hardware it stands in for): the driver package
`collect/dynamixel/` provides the emulator and the bus, and knows nothing of rigs or calibration.

Usage (the recorder)::

    with start_virtual_chains(rig, line="ideal", operator=True) as chains:
        path = chains.device_path("emulator:left_follower")   # a /dev/pts/N the real SDK opens
        ...                                                    # MotorBus resolves the port itself
        chains.inject("emulator:left_follower", 3, "gone")     # fault injection at run time
        chains.clear("emulator:left_follower", 3)              # the motor reappears

`start_virtual_chains(rig, *, line="ideal"|"1M"|"4M", operator=True, mode="process") -> VirtualChains`
emulates one chain per emulator port, with the motor ids and models of the rig's joints. Followers
start at the rig's start pose; leaders (torque off, moved by a person in reality) are driven by
`ScriptedOperator` when `operator` is true: smooth motions inside the joint limits and a gripper
squeeze every few seconds. While started, the ports are registered with `bus.register_emulator_port`
so `MotorBus("emulator:...")` opens them. Faults: "silent", "gone", "corrupt", "latency" (with
`seconds`), "overload"; `count` limits a fault to that many replies. `.stop()` ends it all.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from demoforge.collect import calibration as cal
from demoforge.collect.dynamixel import bus as bus_mod
from demoforge.collect.dynamixel.emulator import LINES, ChainSpec, Emulator, MotorSpec
from demoforge.collect.dynamixel.motor_settings import MotorSettings
from demoforge.schemas.rig import Arm, Rig

SQUEEZE_PERIOD_S = 4.0  # the operator closes and reopens the gripper this often


@dataclass(frozen=True)
class _ScriptedJoint:
    lo: float
    hi: float
    center: float
    amplitude: float
    gripper: bool
    phase: float
    motors: tuple[tuple[int, float, float], ...]  # (id, zero tick, ticks per joint unit)


@dataclass(frozen=True)
class ScriptedOperator:
    """A person moving a leader arm, as a function of time: joint values stay inside the limits."""

    joints: tuple[_ScriptedJoint, ...]
    # Where along its motion the operator is at the chain's start: each session starts elsewhere, so
    # a second `record` run does not replay the first one's episodes (they would be near-duplicates).
    t_offset: float = 0.0

    @classmethod
    def for_arm(cls, arm: Arm, calibration: cal.ArmCalibration, t_offset: float = 0.0) -> ScriptedOperator:
        joints = []
        for k, j in enumerate(arm.joints):
            lo, hi = j.limits
            span = hi - lo
            center = min(max(j.start, lo + 0.25 * span), hi - 0.25 * span)
            motors = tuple(
                (i, float(calibration.leader[i].zero), calibration.leader[i].ticks_per_unit())
                for i in j.leader_ids
            )
            joints.append(
                _ScriptedJoint(lo, hi, center, min(0.2 * span, 0.6), j.kind == "gripper", 0.9 * k, motors)
            )
        return cls(tuple(joints), t_offset)

    def joint_values(self, t: float) -> list[float]:
        t += self.t_offset
        out = []
        for j in self.joints:
            if j.gripper:  # open most of the time, squeezed shut once per period
                s = 0.5 + 0.5 * math.cos(2 * math.pi * t / SQUEEZE_PERIOD_S + j.phase)
                q = j.lo + (j.hi - j.lo) * (0.15 + 0.8 * s)
            else:  # two incommensurate sines: smooth, never periodic within an episode
                w = 0.6 * math.sin(2 * math.pi * 0.23 * t + j.phase) + 0.4 * math.sin(
                    2 * math.pi * 0.61 * t + 2 * j.phase
                )
                q = j.center + j.amplitude * w
            out.append(min(max(q, j.lo), j.hi))
        return out

    def __call__(self, t: float) -> dict[int, float]:
        """Mechanical ticks per leader motor id at time t (seconds since the chain started)."""
        return {
            mid: zero + q * scale
            for j, q in zip(self.joints, self.joint_values(t), strict=True)
            for mid, zero, scale in j.motors
        }


def _motors(arm: Arm, side: str, calibration: cal.ArmCalibration, pose: list[float]) -> tuple[MotorSpec, ...]:
    """The emulated motors of one side, mounted as `calibration` says; a joint's motors are coupled."""
    specs = []
    for j, q in zip(arm.joints, pose, strict=True):
        model = j.leader_model if side == "leader" else j.follower_model
        ids = getattr(j, f"{side}_ids")
        first = calibration.side(side)[ids[0]]
        for i in ids:
            m = calibration.side(side)[i]
            lo_t, hi_t = sorted(m.zero + v * m.ticks_per_unit() for v in j.limits)
            margin = 0.05 * (hi_t - lo_t)
            settings = m.settings or MotorSettings()
            specs.append(
                MotorSpec(
                    id=i,
                    model=model,
                    position=m.zero + q * m.ticks_per_unit(),
                    min_position=max(0, int(lo_t - margin)),
                    max_position=min(4095, math.ceil(hi_t + margin)),
                    drive_mode=settings.drive_mode,
                    secondary_id=settings.secondary_id,
                    homing_offset=settings.homing_offset,
                    return_delay=settings.return_delay,
                    couple_to=ids[0] if i != ids[0] else None,
                    couple_sign=1 if (m.ticks_per_unit() > 0) == (first.ticks_per_unit() > 0) else -1,
                )
            )
    return tuple(specs)


class VirtualChains:
    """The running emulated chains of a rig (see the module docstring)."""

    def __init__(
        self,
        emulator: Emulator,
        paths: dict[str, str],
        mounting: dict[str, dict[int, tuple[float, float]]] | None = None,
    ) -> None:
        self.emulator = emulator
        self.paths = paths
        # port -> motor id -> (tick at joint zero, ticks per joint unit): how the emulated arm is built
        self.mounting = mounting or {}

    def place_pose(self, arm: Arm, pose: dict[str, float]) -> None:
        """Put both emulated arms of `arm` into `pose` (joint name -> value), as a person would
        (a `calibration_flow.Poser`)."""
        for side in ("leader", "follower"):
            port = getattr(arm, side).port
            mount = self.mounting[port]
            self.emulator.place(
                port,
                {
                    i: mount[i][0] + pose[j.name] * mount[i][1]
                    for j in arm.joints
                    for i in getattr(j, f"{side}_ids")
                },
            )

    def device_path(self, port: str) -> str:
        """The pty path to open for an `emulator:<name>` port."""
        try:
            return self.paths[port]
        except KeyError:
            raise KeyError(f"{port!r} is not an emulated port; emulated: {', '.join(self.paths)}") from None

    def inject(self, port: str, motor_id: int, fault: str, *, seconds: float = 0.0, count: int = -1) -> None:
        """Inject a fault: "silent", "gone", "corrupt", "latency" (`seconds`) or "overload"."""
        self.device_path(port)
        self.emulator.inject(port, motor_id, fault, seconds=seconds, count=count)

    def clear(self, port: str, motor_id: int | None = None) -> None:
        """Remove faults (a gone motor reappears)."""
        self.emulator.clear(port, motor_id)

    def pause_operator(self, port: str, seconds: float) -> None:
        """The scripted operator holds the leader on `port` still for `seconds` (a hesitation)."""
        self.device_path(port)
        self.emulator.pause_operator(port, seconds)

    def move(self, port: str, positions: dict[int, float]) -> None:
        """Move the (torque-off) leader motors on `port` by hand: mechanical ticks per motor id.

        How a simulation's scripted operator drives a leader in simulated time, where the built-in
        `ScriptedOperator` runs on the emulator's wall clock.
        """
        self.emulator.move(port, positions)

    def set_line(self, port: str, line: str) -> None:
        self.emulator.set_line(port, line)

    def set_register(self, port: str, motor_id: int, register: str, value: int) -> None:
        """A setting as a vendor tool or another program left it (Drive Mode, Secondary ID...)."""
        self.emulator.set_register(port, motor_id, register, value)

    def set_latency_timer(self, port: str, ms: int) -> None:
        """The adapter's latency timer: its sysfs file and how late replies come."""
        self.emulator.set_latency_timer(port, ms)

    def set_stops(self, port: str, motor_id: int, lo: float, hi: float) -> None:
        """Mechanical travel left to a motor in ticks (an object in the gripper)."""
        self.emulator.set_stops(port, motor_id, lo, hi)

    def mechanical_position(self, port: str, motor_id: int) -> float:
        """Where an emulated motor's shaft is, in the ticks `set_stops` takes."""
        return self.emulator.mechanical_position(port, motor_id)

    def state(self, port: str, motor_id: int) -> dict[str, int]:
        """Every register of one emulated motor (for tests: goal position, torque enable...)."""
        return self.emulator.state(port, motor_id)

    def stop(self) -> None:
        for port in self.paths:
            bus_mod.unregister_emulator_port(port)
        self.emulator.stop()

    def __enter__(self) -> VirtualChains:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_virtual_chains(
    rig: Rig, *, line: str = "ideal", operator: bool = True, mode: str = "process"
) -> VirtualChains:
    """Emulate every `emulator:<name>` bus of `rig`; `mode` "process" (default) or "thread"."""
    if line not in LINES:
        raise ValueError(f"line must be one of {', '.join(LINES)}, not {line!r}")
    emulator = Emulator(mode)
    paths: dict[str, str] = {}
    mounting: dict[str, dict[int, tuple[float, float]]] = {}
    t_offset = random.uniform(0.0, 3600.0)  # one for every arm: they move as one person's hands
    try:
        for arm in rig.arms:
            calibration = cal.for_arm(rig, arm) if cal.is_virtual(arm) else cal.identity(arm)
            script = ScriptedOperator.for_arm(arm, calibration, t_offset) if operator else None
            leader_pose = script.joint_values(0.0) if script else [j.start for j in arm.joints]
            for side, pose in (("leader", leader_pose), ("follower", [j.start for j in arm.joints])):
                port = getattr(arm, side).port
                if not port.startswith("emulator:"):
                    continue
                spec = ChainSpec(
                    _motors(arm, side, calibration, pose), LINES[line], script if side == "leader" else None
                )
                paths[port] = emulator.add_chain(port, spec)
                mounting[port] = {
                    i: (float(m.zero), m.ticks_per_unit()) for i, m in calibration.side(side).items()
                }
                bus_mod.register_emulator_port(port, paths[port], str(emulator.sysfs_root))
    except BaseException:
        for port in paths:
            bus_mod.unregister_emulator_port(port)
        emulator.stop()
        raise
    return VirtualChains(emulator, paths, mounting)
