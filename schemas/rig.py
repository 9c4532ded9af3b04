"""The rig config: one TOML file describing arms, motors, cameras and the control rate.

Parsed with `tomllib` into frozen dataclasses. Every mistake (unknown key, wrong type, impossible
value) raises one `ConfigError` naming the file, the key and the fix.

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

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from demoforge.schemas.errors import ConfigError
from demoforge.schemas.toml_fields import Ctx, check_keys, choice, flag, items, num, positive, table, text

CAMERA_TYPES = ("realsense", "opencv", "synthetic", "sim")
SIM_TASKS = ("transfer_cube", "insertion")  # gym-aloha's joint-controlled tasks
JOINT_KINDS = ("revolute", "gripper")
OPERATING_MODES = ("position", "current_position", "pwm")


@dataclass(frozen=True)
class Port:
    """A serial bus: a device path (`/dev/ttyUSB0`) or `emulator:<name>` for the virtual rig."""

    port: str
    baudrate: int = 1_000_000  # bit/s; Dynamixel X-series accept up to 4.5 Mbit/s
    protocol: float = 2.0  # only Protocol 2.0 is supported
    timeout_ms: float = 8.0  # per packet; a 9-motor sync read takes ~1 ms at 1 Mbit/s


@dataclass(frozen=True)
class Joint:
    """One joint of an arm pair; it may be driven by several motors (ViperX shoulder and elbow)."""

    name: str
    leader_ids: tuple[int, ...]
    follower_ids: tuple[int, ...]
    leader_model: str
    follower_model: str
    limits: tuple[float, float]  # rad for revolute joints, 0..1 for grippers (0 closed, 1 open)
    kind: str = "revolute"  # "revolute" or "gripper"
    follower_mode: str = "position"  # "position", "current_position" (grippers) or "pwm"
    start: float = 0.0  # start pose, same unit as limits


@dataclass(frozen=True)
class Arm:
    """A leader-follower pair."""

    name: str
    leader: Port
    follower: Port
    joints: tuple[Joint, ...]
    calibration: str = ""  # calibration file, relative to the rig file; "" = <rig stem>.<arm>.calib.json

    @property
    def joint_names(self) -> list[str]:
        return [f"{self.name}_{j.name}" for j in self.joints]


@dataclass(frozen=True)
class Camera:
    """A camera; `source` is a device index, a device path or a video file for `opencv`, the
    MuJoCo camera's name for `sim` (e.g. "top")."""

    name: str
    type: str  # "realsense", "opencv" or "synthetic"
    width: int
    height: int
    fps: float
    serial: str = ""  # realsense: which device (or a playback file path); "" = the only one
    source: int | str = 0  # opencv: index, /dev/videoN, or a video file
    fourcc: str = "MJPG"  # opencv: MJPG lets USB cameras reach 30 fps at 640x480


@dataclass(frozen=True)
class Safety:
    """Clamps applied between leader and follower at every tick."""

    max_step: float = 0.2  # rad per tick a follower goal may move; larger leader jumps are spread out
    limit_margin: float = 0.0  # rad kept inside the joint limits


@dataclass(frozen=True)
class Recording:
    """Defaults of `demoforge record`."""

    compress: bool = True  # JPEG images (ALOHA's padded layout) instead of raw RGB
    jpeg_quality: int = 90
    episode_time: float = 20.0  # s
    reset_time: float = 5.0  # s
    flush_interval: float = 0.5  # s between HDF5 flushes: a crash loses at most this much


@dataclass(frozen=True)
class Simulation:
    """A simulated follower pair (gym-aloha): the task, and how its cameras are rendered."""

    task: str  # "transfer_cube" or "insertion"
    seed: int = 0  # episode_<i> places the objects with seed + i (gym-aloha's sampler)
    shadows: bool = False  # off by default: ~4x faster software rendering
    reflections: bool = False


@dataclass(frozen=True)
class Rig:
    """A whole rig: arm pairs, cameras, control rate."""

    name: str
    fps: float
    arms: tuple[Arm, ...]
    cameras: tuple[Camera, ...] = ()
    robot: str = ""  # free text stored in episodes, e.g. "aloha"
    sim: bool = False  # followers are simulated (ALOHA's root attribute `sim`)
    safety: Safety = field(default_factory=Safety)
    recording: Recording = field(default_factory=Recording)
    simulation: Simulation | None = None  # set: the followers are simulated (the `[simulation]` table)
    source: str = ""  # the file it was read from

    @property
    def joint_names(self) -> list[str]:
        return [n for arm in self.arms for n in arm.joint_names]

    @property
    def joint_limits(self) -> list[tuple[float, float]]:
        return [j.limits for arm in self.arms for j in arm.joints]

    @property
    def start_pose(self) -> list[float]:
        return [j.start for arm in self.arms for j in arm.joints]

    def calibration_path(self, arm: Arm) -> Path:
        base = Path(self.source).parent if self.source else Path.cwd()
        name = arm.calibration or f"{Path(self.source).stem or self.name}.{arm.name}.calib.json"
        return base / name

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy, stored in the dataset manifest."""
        from dataclasses import asdict

        return asdict(self)


# --- parsing ---------------------------------------------------------------------------------------


def _port(ctx: Ctx, key: str, raw: Any) -> Port:
    t = table(ctx, key, raw)
    check_keys(ctx, f"{key}.", t, Port)
    port = text(ctx, f"{key}.port", t["port"])
    if not port:
        raise ctx.fail(f"{key}.port", "is empty", 'set it to a device path such as "/dev/ttyUSB0"')
    baud = positive(
        ctx, f"{key}.baudrate", num(ctx, f"{key}.baudrate", t.get("baudrate", 1_000_000), integer=True)
    )
    proto = num(ctx, f"{key}.protocol", t.get("protocol", 2.0))
    if proto != 2.0:
        raise ctx.fail(f"{key}.protocol", f"{proto} is not supported", "use protocol = 2.0 (X-series motors)")
    timeout = positive(ctx, f"{key}.timeout_ms", num(ctx, f"{key}.timeout_ms", t.get("timeout_ms", 8.0)))
    return Port(port=port, baudrate=int(baud), protocol=proto, timeout_ms=timeout)


def _ids(ctx: Ctx, key: str, v: Any) -> tuple[int, ...]:
    listed = items(ctx, key, v)
    if not listed:
        raise ctx.fail(key, "is empty", f"list the motor ids, e.g. {key} = [1]")
    ids = tuple(num(ctx, key, i, integer=True) for i in listed)
    for i in ids:
        if not 0 <= i <= 252:
            raise ctx.fail(key, f"motor id {i} is out of range", "Dynamixel ids are 0..252")
    return ids


def _joint(ctx: Ctx, key: str, raw: Any) -> Joint:
    t = table(ctx, key, raw)
    check_keys(ctx, f"{key}.", t, Joint)
    kind = choice(ctx, f"{key}.kind", text(ctx, f"{key}.kind", t.get("kind", "revolute")), JOINT_KINDS)
    limits = items(ctx, f"{key}.limits", t["limits"])
    if len(limits) != 2:
        raise ctx.fail(f"{key}.limits", f"expected [low, high], got {limits!r}", "write limits = [low, high]")
    lo, hi = (num(ctx, f"{key}.limits", x) for x in limits)
    if lo >= hi:
        raise ctx.fail(f"{key}.limits", f"low {lo} is not below high {hi}", "write limits = [low, high]")
    if kind == "gripper" and (lo < 0 or hi > 1):
        raise ctx.fail(
            f"{key}.limits",
            f"gripper limits {limits} leave 0..1",
            "grippers are normalized: 0 closed, 1 open",
        )
    start = num(ctx, f"{key}.start", t.get("start", lo if kind == "gripper" else 0.0))
    if not lo <= start <= hi:
        raise ctx.fail(
            f"{key}.start",
            f"{start} is outside the limits [{lo}, {hi}]",
            "choose a start pose inside the limits",
        )
    mode = text(
        ctx,
        f"{key}.follower_mode",
        t.get("follower_mode", "current_position" if kind == "gripper" else "position"),
    )
    return Joint(
        name=text(ctx, f"{key}.name", t["name"]),
        leader_ids=_ids(ctx, f"{key}.leader_ids", t["leader_ids"]),
        follower_ids=_ids(ctx, f"{key}.follower_ids", t["follower_ids"]),
        leader_model=text(ctx, f"{key}.leader_model", t["leader_model"]).lower(),
        follower_model=text(ctx, f"{key}.follower_model", t["follower_model"]).lower(),
        limits=(lo, hi),
        kind=kind,
        follower_mode=choice(ctx, f"{key}.follower_mode", mode, OPERATING_MODES),
        start=start,
    )


def _arm(ctx: Ctx, key: str, raw: Any) -> Arm:
    t = table(ctx, key, raw)
    check_keys(ctx, f"{key}.", t, Arm)
    name = text(ctx, f"{key}.name", t["name"])
    joints = tuple(
        _joint(ctx, f"{key}.joints[{i}]", j) for i, j in enumerate(items(ctx, f"{key}.joints", t["joints"]))
    )
    if not joints:
        raise ctx.fail(f"{key}.joints", "no joints", "add at least one [[arms.joints]] table")
    for side in ("leader", "follower"):
        seen: dict[int, str] = {}
        for j in joints:
            for i in getattr(j, f"{side}_ids"):
                if i in seen:
                    raise ctx.fail(
                        f"{key}.joints.{side}_ids",
                        f"duplicate motor id {i} on the {side} bus (joints {seen[i]!r} and {j.name!r})",
                        "give every motor on one bus its own id",
                    )
                seen[i] = j.name
    names = [j.name for j in joints]
    if len(set(names)) != len(names):
        raise ctx.fail(f"{key}.joints", f"duplicate joint names in {names}", "give every joint its own name")
    return Arm(
        name=name,
        leader=_port(ctx, f"{key}.leader", t["leader"]),
        follower=_port(ctx, f"{key}.follower", t["follower"]),
        joints=joints,
        calibration=text(ctx, f"{key}.calibration", t.get("calibration", "")),
    )


def _camera(ctx: Ctx, key: str, raw: Any) -> Camera:
    t = table(ctx, key, raw)
    check_keys(ctx, f"{key}.", t, Camera)
    name = text(ctx, f"{key}.name", t["name"])
    ctype = choice(ctx, f"{key}.type", text(ctx, f"{key}.type", t["type"]), CAMERA_TYPES)
    w = positive(ctx, f"{key}.width", num(ctx, f"{key}.width", t["width"], integer=True))
    h = positive(ctx, f"{key}.height", num(ctx, f"{key}.height", t["height"], integer=True))
    fps = positive(ctx, f"{key}.fps", num(ctx, f"{key}.fps", t["fps"]))
    source = t.get("source", 0)
    if isinstance(source, bool) or not isinstance(source, int | str):
        raise ctx.fail(
            f"{key}.source",
            f"expected an index or a path, got {source!r}",
            'write source = 0 or "/dev/video0"',
        )
    fourcc = text(ctx, f"{key}.fourcc", t.get("fourcc", "MJPG"))
    if len(fourcc) != 4:
        raise ctx.fail(
            f"{key}.fourcc", f"{fourcc!r} is not a four-character code", 'use e.g. "MJPG" or "YUYV"'
        )
    return Camera(
        name=name,
        type=ctype,
        width=int(w),
        height=int(h),
        fps=fps,
        serial=text(ctx, f"{key}.serial", t.get("serial", "")),
        source=source,
        fourcc=fourcc,
    )


def _sub(ctx: Ctx, key: str, raw: Any, cls: type) -> Any:
    t = table(ctx, key, raw)
    check_keys(ctx, f"{key}.", t, cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in t:
            continue
        v = t[f.name]
        if f.type in ("bool", bool):
            values[f.name] = flag(ctx, f"{key}.{f.name}", v)
        elif f.type in ("int", int):
            values[f.name] = num(ctx, f"{key}.{f.name}", v, integer=True)
        else:
            values[f.name] = num(ctx, f"{key}.{f.name}", v)
        if f.name != "limit_margin" and values[f.name] is not True and values[f.name] is not False:
            positive(ctx, f"{key}.{f.name}", values[f.name])
    return cls(**values)


def _simulation(ctx: Ctx, raw: Any) -> Simulation:
    t = table(ctx, "simulation", raw)
    check_keys(ctx, "simulation.", t, Simulation)
    task = choice(ctx, "simulation.task", text(ctx, "simulation.task", t["task"]), SIM_TASKS)
    seed = num(ctx, "simulation.seed", t.get("seed", 0), integer=True)
    if seed < 0:
        raise ctx.fail("simulation.seed", f"must be >= 0, got {seed}", "use a non-negative integer")
    return Simulation(
        task=task,
        seed=seed,
        shadows=flag(ctx, "simulation.shadows", t.get("shadows", False)),
        reflections=flag(ctx, "simulation.reflections", t.get("reflections", False)),
    )


def parse_rig(data: dict[str, Any], source: str = "<rig>") -> Rig:
    """Validate a parsed TOML document into a `Rig`."""
    ctx = Ctx(source)
    check_keys(ctx, "", data, Rig, internal=("source",))
    name = text(ctx, "name", data["name"])
    fps = positive(ctx, "fps", num(ctx, "fps", data["fps"]))
    arms = tuple(_arm(ctx, f"arms[{i}]", a) for i, a in enumerate(items(ctx, "arms", data["arms"])))
    if not arms:
        raise ctx.fail("arms", "no arms", "add at least one [[arms]] table")
    if len({a.name for a in arms}) != len(arms):
        raise ctx.fail("arms", "duplicate arm names", "give every arm its own name")
    buses = [(a.name, side, getattr(a, side).port) for a in arms for side in ("leader", "follower")]
    seen_ports: dict[str, str] = {}
    for arm_name, side, port in buses:
        if port in seen_ports:
            raise ctx.fail(
                f"arms.{side}.port",
                f"{port} is used by {seen_ports[port]} and {arm_name}.{side}",
                "give every bus its own port",
            )
        seen_ports[port] = f"{arm_name}.{side}"
    cameras = tuple(
        _camera(ctx, f"cameras[{i}]", c) for i, c in enumerate(items(ctx, "cameras", data.get("cameras", [])))
    )
    if len({c.name for c in cameras}) != len(cameras):
        raise ctx.fail("cameras", "duplicate camera names", "give every camera its own name")
    simulation = _simulation(ctx, data["simulation"]) if "simulation" in data else None
    for c in cameras:
        if (c.type == "sim") != (simulation is not None):
            raise ctx.fail(
                f"cameras.{c.name}.type",
                f"{c.type!r} camera on a {'simulated' if simulation else 'physical'} rig",
                "sim cameras go with a [simulation] table, and only there",
            )
    return Rig(
        name=name,
        fps=fps,
        arms=arms,
        cameras=cameras,
        robot=text(ctx, "robot", data.get("robot", name)),
        sim=flag(ctx, "sim", data.get("sim", simulation is not None)),
        simulation=simulation,
        safety=_sub(ctx, "safety", data.get("safety", {}), Safety),
        recording=_sub(ctx, "recording", data.get("recording", {}), Recording),
        source=source,
    )


def load_rig(path: str | Path) -> Rig:
    """Read and validate a rig TOML file."""
    p = Path(path)
    try:
        text = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"rig file {p} does not exist", "check the path, or use a shipped rig name"
        ) from None
    except OSError as e:
        raise ConfigError(f"rig file {p} cannot be read: {e.strerror}", "check its permissions") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML: {e}", "fix the syntax at the position shown") from None
    return parse_rig(data, str(p))
