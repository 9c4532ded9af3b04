"""The episode file layout: the one place that names datasets and attributes.

The core is ALOHA's (docs/interoperability.md says which existing loaders read what); our additions
live beside it under new names. See DESIGN.md for the table; the constants below are its code.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1

# ALOHA core
QPOS = "/observations/qpos"  # (T, J) float32 follower joint positions
QVEL = "/observations/qvel"  # (T, J) float32
EFFORT = "/observations/effort"  # (T, J) float32 present current
IMAGES = "/observations/images"  # group: <cam> -> (T, H, W, 3) uint8 RGB or (T, Lmax) uint8 padded JPEG
ACTION = "/action"  # (T, J) float32 command sent at tick t
COMPRESS_LEN = "/compress_len"  # (n_cams, T) JPEG byte lengths, only when attr compress is true

# demoforge extensions
LEADER_QPOS = "/leader/qpos"  # (T, J) float32 raw leader reading
TIMESTAMPS = "/timestamps"  # (T,) float64 tick start, s since episode start (host monotonic)
FRAME_TIME = "/observations/frame_time"  # group: <cam> -> (T,) float64 capture time, same clock
FRAME_INDEX = "/observations/frame_index"  # group: <cam> -> (T,) int64 camera's frame counter

# Optional datasets: written only when the rig or the run has them; absent from other files (readers
# list what is missing, never fail). Names fixed here so every wing agrees before the writer grows them.
DEVICE_TIME = "/observations/device_time"  # group: <cam> -> (T,) float64 s, the camera's own clock
#   (RealSense hardware timestamp, V4L2 buffer time); arbitrary offset, only differences are meaningful
DEVICE_INDEX = "/observations/device_index"  # group: <cam> -> (T,) int64 the camera's own frame counter
#   (RealSense frame number); absent for cameras whose driver has none (OpenCV counts reads, not frames)
CLAMPED = "/leader/clamped"  # (T,) uint8 1 where the teleop safety clamp changed the leader's command
REWARD = "/reward"  # (T,) float32 task reward after tick t's action (simulation only)
INFERENCE_LATENCY = "/policy/inference_latency"  # (T,) float32 s of the inference whose chunk began
#   at tick t; NaN where no new chunk began (policy rollouts only)

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


EPISODE_RE = re.compile(r"^episode_(0|[1-9][0-9]*)\.hdf5$")


def episode_name(index: int) -> str:
    """`episode_<i>.hdf5`, no zero padding: the ACT and ALOHA loaders open exactly that name."""
    return f"episode_{index}.hdf5"


def episode_number(name: str) -> int | None:
    m = EPISODE_RE.match(name)
    return int(m.group(1)) if m else None


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

    def to_hdf5(self) -> dict[str, Any]:
        """Attribute values as stored: JSON for structures, arrays for limits."""
        import numpy as np

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
