"""The episode file layout: the one place that names datasets and attributes.

The core is ALOHA's (docs/interoperability.md says which existing loaders read what); our additions
live beside it under new names. See DESIGN.md for the table; the constants below are its code.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

ALOHA_FPS = 50.0  # Hz: plain ALOHA files carry no fps attribute; ALOHA records at 50 Hz (`--fps` overrides)
SCHEMA_VERSION = 2  # 2: JPEG payloads in the ALOHA channel convention, stated by jpeg_channel_order

# ALOHA core
QPOS = "/observations/qpos"  # (T, J) float32 follower joint positions
QVEL = "/observations/qvel"  # (T, J) float32
EFFORT = "/observations/effort"  # (T, J) float32 present current
IMAGES = "/observations/images"  # group: <cam> -> (T, H, W, 3) uint8 RGB or (T, Lmax) uint8 padded JPEG
ACTION = "/action"  # (T, J) float32 command sent at tick t
COMPRESS_LEN = "/compress_len"  # (n_cams, T) int32 JPEG byte lengths, only when attr compress is true.
#   Row k belongs to the k-th camera of the root attribute `cameras` (the writer's camera order); 0 where
#   a tick had no frame. Files without a readable `cameras` attribute: the image datasets sorted by name.

# demoforge extensions
LEADER_QPOS = "/leader/qpos"  # (T, J) float32 raw leader reading
TIMESTAMPS = "/timestamps"  # (T,) float64 tick start, s since episode start (host monotonic)
FRAME_TIME = "/observations/frame_time"  # group: <cam> -> (T,) float64 capture time, same clock
FRAME_INDEX = "/observations/frame_index"  # group: <cam> -> (T,) int64 camera's frame counter

# Optional datasets: written only when the rig or the run has them; absent from other files (readers
# list what is missing, never fail). The writer is told at creation which ones an episode has (SWMR
# forbids creating a dataset later); a tick without a value stores the dataset's fill value.
DEVICE_TIME = "/observations/device_time"  # group: <cam> -> (T,) float64 s, the camera's own clock
#   (RealSense hardware timestamp, V4L2 buffer time); arbitrary offset, only differences are meaningful;
#   NaN where the device gave none for that frame
DEVICE_INDEX = "/observations/device_index"  # group: <cam> -> (T,) int64 the camera's own frame counter
#   (RealSense frame number); absent for cameras whose driver has none (OpenCV counts reads, not frames);
#   -1 where the tick had no frame
CLAMPED = "/leader/clamped"  # (T,) uint8 1 where the teleop safety clamp changed the leader's command
HELD = "/observations/held"  # (T,) uint8 1 where the followers held where they were (a safety check or
#   a stop: goal = present position) instead of taking that tick's /action
REWARD = "/reward"  # (T,) float32 task reward after tick t's action (simulation only)
INFERENCE_LATENCY = "/policy/inference_latency"  # (T,) float32 s of the inference whose chunk began
#   at tick t; NaN where no new chunk began (policy rollouts only)


@dataclass(frozen=True)
class PerTick:
    """An optional (T,) dataset: its dtype and the value stored for a tick that has none."""

    dtype: str
    fill: float


# Per-tick scalars carried by `Tick.scalars` under these names (the per-camera ones come with the frames).
TICK_SCALARS: dict[str, PerTick] = {
    CLAMPED: PerTick("uint8", 0),
    HELD: PerTick("uint8", 0),
    REWARD: PerTick("float32", math.nan),
    INFERENCE_LATENCY: PerTick("float32", math.nan),
}
DEVICE_TIME_SPEC = PerTick("float64", math.nan)
DEVICE_INDEX_SPEC = PerTick("int64", -1)

# Root attribute naming the channel convention of JPEG payloads (schemas/jpeg.py says why there are two).
JPEG_CHANNEL_ORDER = "jpeg_channel_order"
JPEG_ALOHA = "rgb-as-bgr"  # RGB handed to cv2.imencode as if BGR: cv2.imdecode returns RGB (ALOHA's files)
JPEG_TRUE_COLOUR = "true-colour"  # standard JPEG: viewers show true colours, cv2.imdecode returns BGR
JPEG_CHANNEL_ORDERS = (JPEG_ALOHA, JPEG_TRUE_COLOUR)


def jpeg_channel_order(attrs: dict[str, object]) -> str:
    """The convention of a file's JPEG payloads from its root attributes.

    Without the attribute: our early files (they carry `schema_version`) are true colour; files from
    ALOHA's own recorder (no `schema_version`) follow the ALOHA convention.
    """
    value = attrs.get(JPEG_CHANNEL_ORDER)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return JPEG_TRUE_COLOUR if "schema_version" in attrs else JPEG_ALOHA
    if value not in JPEG_CHANNEL_ORDERS:
        raise ValueError(
            f"root attribute {JPEG_CHANNEL_ORDER} is {value!r}, not one of {JPEG_CHANNEL_ORDERS}"
        )
    return str(value)


JOINT_DATASETS = (QPOS, QVEL, EFFORT, ACTION, LEADER_QPOS)  # (T, J) float32, all written by us
REQUIRED_DATASETS = (QPOS, QVEL, ACTION)  # every ALOHA/ACT episode has these (sim ones lack effort)


def image_path(cam: str) -> str:
    return f"{IMAGES}/{cam}"


def frame_time_path(cam: str) -> str:
    return f"{FRAME_TIME}/{cam}"


def frame_index_path(cam: str) -> str:
    return f"{FRAME_INDEX}/{cam}"


def device_time_path(cam: str) -> str:
    return f"{DEVICE_TIME}/{cam}"


def device_index_path(cam: str) -> str:
    return f"{DEVICE_INDEX}/{cam}"


def optional_spec(name: str) -> PerTick:
    """The spec of an optional dataset by its path; ValueError for a name this layout does not define."""
    if name in TICK_SCALARS:
        return TICK_SCALARS[name]
    group, _, cam = name.rpartition("/")
    if cam and group == DEVICE_TIME:
        return DEVICE_TIME_SPEC
    if cam and group == DEVICE_INDEX:
        return DEVICE_INDEX_SPEC
    raise ValueError(f"{name} is not an optional dataset of the episode layout")


def tick_times(timestamps: np.ndarray | None, length: int, period: float) -> np.ndarray:
    """Episode time of each tick: the recorded timestamps when usable (finite, strictly increasing),
    otherwise tick * period. Spans in reports and durations are in this time."""
    ts = timestamps
    if ts is not None and len(ts) == length and np.isfinite(ts).all() and bool(np.all(np.diff(ts) > 0)):
        return ts
    return np.arange(length) * period


def episode_duration(times: np.ndarray, period: float) -> float:
    """An episode lasts from its first tick's time 0 to one period after its last tick started."""
    return float(times[-1] + period) if len(times) else 0.0


EPISODE_RE = re.compile(r"^episode_(0|[1-9][0-9]*)\.hdf5$")


def episode_name(index: int) -> str:
    """`episode_<i>.hdf5`, no zero padding: the ACT and ALOHA loaders open exactly that name."""
    return f"episode_{index}.hdf5"


def episode_number(name: str) -> int | None:
    m = EPISODE_RE.match(name)
    return int(m.group(1)) if m else None


SOURCE_EPISODE_RE = re.compile(r"^episode_(0|[1-9][0-9]*)(?:\.hdf5)?$")  # ours, or a LeRobot episode_index


def episode_index_of(name: str) -> int | None:
    """The number in an episode's name in reports and splits: episode_3.hdf5 (ours) or episode_3 (LeRobot)."""
    m = SOURCE_EPISODE_RE.match(name)
    return int(m.group(1)) if m else None


def episode_order(name: str) -> int:
    """Sort key of an episode name in reports and splits: episode_2 before episode_10, either source."""
    return episode_index_of(name) or 0


@dataclass(frozen=True)
class CameraInfo:
    """What an episode records about one camera (root attribute `cameras`, JSON)."""

    name: str
    type: str = "unknown"
    serial: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0
    intrinsics: dict[str, Any] = field(default_factory=dict)  # fx, fy, ppx, ppy, model, coeffs


SUCCESS_UNLABELED = -1


@dataclass
class EpisodeAttrs:
    """Root attributes. `success`, `complete` and `loop_stats` are set on close."""

    fps: float
    joint_names: list[str]
    joint_limits: list[tuple[float, float]]
    cameras: list[CameraInfo]
    sim: bool = False
    compress: bool = True
    robot: str = ""
    task: str = ""
    operator: str = ""
    started_at: str = ""  # ISO 8601 UTC
    software: str = ""
    success: int = SUCCESS_UNLABELED  # 1 success, 0 failure, -1 unlabeled
    complete: bool = False  # true only after a clean close
    loop_stats: dict[str, Any] = field(
        default_factory=dict
    )  # achieved_hz, period error percentiles, overruns
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_hdf5(cls, attrs: dict[str, Any]) -> EpisodeAttrs:
        """The inverse of `to_hdf5` (attributes as `EpisodeReader.attrs` holds them).

        Raises KeyError, ValueError or TypeError when an attribute is missing or malformed.
        """
        names = [str(n) for n in json.loads(attrs["joint_names"])]
        limits = np.asarray(attrs["joint_limits"], dtype=np.float64).reshape(len(names), 2)
        return cls(
            fps=float(attrs["fps"]),
            joint_names=names,
            joint_limits=[(float(lo), float(hi)) for lo, hi in limits],
            cameras=[CameraInfo(**c) for c in json.loads(attrs["cameras"])],
            sim=bool(attrs.get("sim", False)),
            compress=bool(attrs["compress"]),
            robot=str(attrs.get("robot", "")),
            task=str(attrs.get("task", "")),
            operator=str(attrs.get("operator", "")),
            started_at=str(attrs.get("started_at", "")),
            software=str(attrs.get("software", "")),
            success=int(attrs.get("success", SUCCESS_UNLABELED)),
            complete=bool(attrs.get("complete", False)),
            loop_stats=json.loads(attrs.get("loop_stats", "{}")),
            schema_version=int(attrs.get("schema_version", SCHEMA_VERSION)),
        )

    def to_hdf5(self) -> dict[str, Any]:
        """Attribute values as stored: JSON for structures, arrays for limits."""
        return {
            "sim": bool(self.sim),
            "compress": bool(self.compress),
            "schema_version": int(self.schema_version),
            "fps": float(self.fps),
            "robot": self.robot,
            "task": self.task,
            "operator": self.operator,
            "joint_names": json.dumps(list(self.joint_names)),
            "joint_limits": np.asarray(self.joint_limits, dtype=np.float64).reshape(len(self.joint_names), 2),
            "cameras": json.dumps([asdict(c) for c in self.cameras]),
            "success": int(self.success),
            "started_at": self.started_at,
            "complete": bool(self.complete),
            "loop_stats": json.dumps(self.loop_stats),
            "software": self.software,
        }
