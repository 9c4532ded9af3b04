"""The rig config: one TOML file describing arms, motors, cameras and the control rate.

Parsed by `schemas.toml_config` into these frozen dataclasses: each field's type, default and rule is
written on it; what spans several fields (duplicate ids, start pose inside the limits) is checked
below. Every mistake raises one `ConfigError` naming the file, the key and the fix.

Example (a one-pair rig with one camera)::

    name = "koch"
    fps = 50

    [[arms]]
    name = "main"
    leader = { port = "/dev/ttyACM0" }
    follower = { port = "/dev/ttyACM1" }

    [[arms.joints]]
    name = "shoulder_pan"
    leader_ids = [1]
    follower_ids = [1]
    leader_model = "xl330-m077"
    follower_model = "xl430-w250"
    limits = [-3.1, 3.1]

    [[cameras]]
    name = "cam_high"
    type = "opencv"
    source = 0
    width = 640
    height = 480
    fps = 30
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from demoforge.schemas.errors import ConfigError
from demoforge.schemas.toml_config import (
    INTERNAL,
    POSITIVE,
    all_of,
    converted,
    derived_default,
    fail,
    from_table,
    one_of,
    read_toml,
    rule,
)

CAMERA_TYPES = ("realsense", "opencv", "synthetic", "sim")
SIM_TASKS = ("transfer_cube", "insertion")  # gym-aloha's joint-controlled tasks
NOT_NEGATIVE = rule(lambda v: v >= 0, "must be >= 0, got {v}", "use 0 (off or automatic) or more")
JOINT_KINDS = ("revolute", "gripper")
OPERATING_MODES = ("position", "current_position", "pwm")
MOTOR_IDS = all_of(
    rule(bool, "is empty", "list the motor ids, e.g. [1]"),
    rule(
        lambda ids: all(0 <= i <= 252 for i in ids),
        "{v} has a motor id out of range",
        "Dynamixel ids are 0..252",
    ),
)


@dataclass(frozen=True)
class Port:
    """A serial bus: a device path (`/dev/ttyUSB0`) or `emulator:<name>` for the virtual rig."""

    port: str = field(metadata=rule(bool, "is empty", 'set it to a device path such as "/dev/ttyUSB0"'))
    baudrate: int = field(default=1_000_000, metadata=POSITIVE)  # bit/s; X-series accept up to 4.5 Mbit/s
    protocol: float = field(  # only Protocol 2.0 is supported
        default=2.0,
        metadata=rule(lambda v: v == 2.0, "{v} is not supported", "use protocol = 2.0 (X-series motors)"),
    )
    timeout_ms: float = field(
        default=8.0, metadata=POSITIVE
    )  # per packet; a 9-motor sync read: ~1 ms at 1 Mbit/s


@dataclass(frozen=True)
class Joint:
    """One joint of an arm pair; it may be driven by several motors (ViperX shoulder and elbow)."""

    name: str
    leader_ids: tuple[int, ...] = field(metadata=MOTOR_IDS)
    follower_ids: tuple[int, ...] = field(metadata=MOTOR_IDS)
    leader_model: str = field(metadata=converted(str.lower))
    follower_model: str = field(metadata=converted(str.lower))
    # rad for revolute joints, 0..1 for grippers (0 closed, 1 open)
    limits: tuple[float, float] = field(
        metadata=rule(
            lambda v: v[0] < v[1], "low {v[0]} is not below high {v[1]}", "write limits = [low, high]"
        )
    )
    kind: str = field(default="revolute", metadata=one_of(*JOINT_KINDS))
    # "position", "current_position" (the default for grippers: they squeeze with limited current) or "pwm"
    follower_mode: str = field(
        default="position",
        metadata=one_of(*OPERATING_MODES)
        | derived_default(lambda j: "current_position" if j["kind"] == "gripper" else "position"),
    )
    # start pose, same unit as limits; grippers start closed (their lower limit) unless told otherwise
    start: float = field(
        default=0.0, metadata=derived_default(lambda j: j["limits"][0] if j["kind"] == "gripper" else 0.0)
    )
    rest: float | None = None  # where the follower is left before torque goes off; None = start
    # follower effort (mA; XL430: % of max load) held for `safety.effort_hold_ticks` ticks in a row
    # above this holds the arm where it is; 0 = 70% of the motor model's current range, -1 = off
    # (grippers are capped by their current limit instead). Write the reason beside a value you set.
    effort_limit: float = 0.0


@dataclass(frozen=True)
class Arm:
    """A leader-follower pair."""

    name: str
    leader: Port
    follower: Port
    joints: tuple[Joint, ...] = field(
        metadata=rule(bool, "no joints", "add at least one [[arms.joints]] table")
    )
    calibration: str = ""  # calibration file, relative to the rig file; "" = <rig stem>.<arm>.calib.json

    @property
    def joint_names(self) -> list[str]:
        return [f"{self.name}_{j.name}" for j in self.joints]


@dataclass(frozen=True)
class CameraConfig:
    """A camera of the rig; `source` is a device index, a device path or a video file for `opencv`,
    the MuJoCo camera's name for `sim` (e.g. "top")."""

    name: str
    type: str = field(metadata=one_of(*CAMERA_TYPES))
    width: int = field(metadata=POSITIVE)
    height: int = field(metadata=POSITIVE)
    fps: float = field(metadata=POSITIVE)
    serial: str = ""  # realsense: which device (or a playback file path); "" = the only one
    source: int | str = 0  # opencv: index, /dev/videoN, or a video file
    # opencv: MJPG lets USB cameras reach 30 fps at 640x480
    fourcc: str = field(
        default="MJPG",
        metadata=rule(
            lambda v: len(v) == 4, "{v!r} is not a four-character code", 'use e.g. "MJPG" or "YUYV"'
        ),
    )


@dataclass(frozen=True)
class Safety:
    """Clamps applied between leader and follower at every tick, and what happens around teleop."""

    # rad per tick a follower goal may move at most (an upper bound; the real limit is max_speed)
    max_step: float = field(default=0.2, metadata=POSITIVE)
    limit_margin: float = 0.0  # rad kept inside the joint limits
    # rad/s a follower goal may move; 0 = 70% of the no-load speed of the joint's slowest follower
    # motor (an XM540-W270 turns 3.1 rad/s unloaded at 12 V: 2.2 rad/s)
    max_speed: float = field(default=0.0, metadata=NOT_NEGATIVE)
    max_lead: float = field(default=0.3, metadata=POSITIVE)  # rad a goal may lead the measured follower
    # rad (grippers: of the stroke) every leader joint must be within its follower to start teleop
    engage_tolerance: float = field(default=0.15, metadata=POSITIVE)
    leaders_to_start: bool = True  # drive the leaders (torque on) to the followers' start pose, as ALOHA
    # follower gripper current limit in current-based position mode, mA; 0 = leave the motor's own
    gripper_current_ma: float = field(default=600.0, metadata=NOT_NEGATIVE)
    rest_on_exit: bool = True  # followers to their rest pose, then torque off, when the program ends
    # ticks in a row a follower joint's effort may exceed its `effort_limit` before the arm holds
    # (5 = 0.1 s at 50 Hz: longer than a collision's spike, far shorter than a motor's overload time)
    effort_hold_ticks: int = field(default=5, metadata=NOT_NEGATIVE)
    # follower gripper speed, full strokes per second: the gripper's step limit and Profile Velocity
    gripper_speed: float = field(default=4.0, metadata=POSITIVE)


@dataclass(frozen=True)
class RecordDefaults:
    """Defaults of `demoforge record` (the rig's `[recording]` table)."""

    compress: bool = True  # JPEG images (ALOHA's padded layout) instead of raw RGB
    jpeg_quality: int = field(default=90, metadata=POSITIVE)
    episode_time: float = field(default=20.0, metadata=POSITIVE)  # s
    reset_time: float = field(default=5.0, metadata=POSITIVE)  # s
    # s between HDF5 flushes: a crash loses at most this much
    flush_interval: float = field(default=0.5, metadata=POSITIVE)


@dataclass(frozen=True)
class Simulation:
    """A simulated follower pair (gym-aloha; the rig's `[simulation]` table)."""

    task: str = field(metadata=one_of(*SIM_TASKS))
    # episode_<i> places the objects with seed + i (gym-aloha's sampler)
    seed: int = field(default=0, metadata=rule(lambda v: v >= 0, "must be >= 0, got {v}", "use 0 or more"))
    shadows: bool = False  # off by default: software rendering is ~4x faster without
    reflections: bool = False


@dataclass(frozen=True)
class Rig:
    """A whole rig: arm pairs, cameras, control rate."""

    name: str
    fps: float = field(metadata=POSITIVE)
    arms: tuple[Arm, ...] = field(metadata=rule(bool, "no arms", "add at least one [[arms]] table"))
    cameras: tuple[CameraConfig, ...] = ()
    robot: str = field(default="", metadata=derived_default(lambda r: r["name"]))  # stored in episodes
    sim: bool = False  # followers are simulated (ALOHA's root attribute `sim`)
    safety: Safety = field(default_factory=Safety)
    recording: RecordDefaults = field(default_factory=RecordDefaults)
    # set: the followers are simulated; read by parse_rig from the `[simulation]` table
    simulation: Simulation | None = field(default=None, metadata=INTERNAL)
    source: str = field(default="", metadata=INTERNAL)  # the file it was read from

    @property
    def joint_names(self) -> list[str]:
        return [n for arm in self.arms for n in arm.joint_names]

    @property
    def joint_limits(self) -> list[tuple[float, float]]:
        return [j.limits for arm in self.arms for j in arm.joints]

    @property
    def start_pose(self) -> list[float]:
        return [j.start for arm in self.arms for j in arm.joints]

    @property
    def rest_pose(self) -> list[float]:
        return [j.start if j.rest is None else j.rest for arm in self.arms for j in arm.joints]

    def calibration_path(self, arm: Arm) -> Path:
        base = Path(self.source).parent if self.source else Path.cwd()
        name = arm.calibration or f"{Path(self.source).stem or self.name}.{arm.name}.calib.json"
        return base / name

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy, stored in the dataset manifest."""
        from dataclasses import asdict

        return asdict(self)


# --- checks across fields (the loader checks each field by itself) ----------------------------------


def _check_joint(source: str, key: str, j: Joint) -> None:
    lo, hi = j.limits
    if j.kind == "gripper" and (lo < 0 or hi > 1):
        raise fail(
            source,
            f"{key}.limits",
            f"gripper limits {list(j.limits)} leave 0..1",
            "grippers are normalized: 0 closed, 1 open",
        )
    for what, v in (("start", j.start), ("rest", j.rest)):
        if v is not None and not lo <= v <= hi:
            raise fail(
                source,
                f"{key}.{what}",
                f"{v} is outside the limits [{lo}, {hi}]",
                f"choose a {what} pose inside the limits",
            )


def _check_arm(source: str, key: str, arm: Arm) -> None:
    for i, j in enumerate(arm.joints):
        _check_joint(source, f"{key}.joints[{i}]", j)
    for side in ("leader", "follower"):
        seen: dict[int, str] = {}
        for j in arm.joints:
            for i in getattr(j, f"{side}_ids"):
                if i in seen:
                    raise fail(
                        source,
                        f"{key}.joints.{side}_ids",
                        f"duplicate motor id {i} on the {side} bus (joints {seen[i]!r} and {j.name!r})",
                        "give every motor on one bus its own id",
                    )
                seen[i] = j.name
    names = [j.name for j in arm.joints]
    if len(set(names)) != len(names):
        raise fail(
            source, f"{key}.joints", f"duplicate joint names in {names}", "give every joint its own name"
        )


def parse_rig(data: dict[str, Any], source: str = "<rig>") -> Rig:
    """Validate a parsed TOML document into a `Rig`."""
    data = dict(data)
    simulation = (
        from_table(Simulation, data.pop("simulation"), source, "simulation.")
        if "simulation" in data
        else None
    )
    rig = replace(from_table(Rig, data, source), source=source, simulation=simulation)
    if simulation is not None:
        rig = replace(rig, sim=True)
    for i, c in enumerate(rig.cameras):
        if (c.type == "sim") != (simulation is not None):
            raise fail(
                source,
                f"cameras[{i}].type",
                f"{c.type!r} camera on a {'simulated' if simulation else 'physical'} rig",
                "sim cameras go with a [simulation] table, and only there",
            )
    for i, arm in enumerate(rig.arms):
        _check_arm(source, f"arms[{i}]", arm)
    if len({a.name for a in rig.arms}) != len(rig.arms):
        raise fail(source, "arms", "duplicate arm names", "give every arm its own name")
    seen_ports: dict[str, str] = {}
    for arm in rig.arms:
        for side in ("leader", "follower"):
            port = getattr(arm, side).port
            if port in seen_ports:
                raise fail(
                    source,
                    f"arms.{side}.port",
                    f"{port} is used by {seen_ports[port]} and {arm.name}.{side}",
                    "give every bus its own port",
                )
            seen_ports[port] = f"{arm.name}.{side}"
    if len({c.name for c in rig.cameras}) != len(rig.cameras):
        raise fail(source, "cameras", "duplicate camera names", "give every camera its own name")
    return rig


def load_rig(path: str | Path) -> Rig:
    """Read and validate a rig TOML file."""
    try:
        data = read_toml(path, "rig file")
    except ConfigError as e:
        if "does not exist" in e.message:
            raise ConfigError(e.message, "check the path, or use a shipped rig name") from None
        raise
    return parse_rig(data, str(path))
