"""Tiny episodes written with the real EpisodeWriter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from demoforge.schemas.episode_layout import CameraInfo, EpisodeAttrs
from demoforge.schemas.episode_writer import EpisodeWriter, Tick

CAMS = {"cam_high": (24, 32), "cam_wrist": (16, 20)}


def frame(cam: str, t: int) -> np.ndarray:
    """A smooth, JPEG-friendly frame that differs per camera and tick."""
    h, w = CAMS[cam]
    y, x = np.mgrid[0:h, 0:w]
    r = x * 199 // max(w - 1, 1) + (t * 7) % 56  # no wrap-around edge: JPEG stays close
    g = (y * 255 // max(h - 1, 1)) % 256
    b = np.full_like(r, 40 if cam == "cam_high" else 200)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def make_attrs(compress: bool, n_joints: int = 3) -> EpisodeAttrs:
    return EpisodeAttrs(
        fps=50.0,
        joint_names=[f"j{i}" for i in range(n_joints)],
        joint_limits=[(-2.0, 2.0)] * n_joints,
        cameras=[
            CameraInfo(name=c, type="synthetic", width=w, height=h, fps=50.0) for c, (h, w) in CAMS.items()
        ],
        compress=compress,
        robot="test",
        task="unit",
    )


def make_tick(t: int, n_joints: int = 3) -> Tick:
    q = np.sin(np.arange(n_joints) + t * 0.1).astype(np.float32)
    return Tick(
        timestamp=t * 0.02,
        qpos=q,
        qvel=q * 2,
        effort=q * 3,
        action=q + 0.01,
        leader_qpos=q - 0.01,
        images={c: frame(c, t) for c in CAMS},
        frame_time={c: t * 0.02 - 0.004 for c in CAMS},
        frame_index={c: 100 + t for c in CAMS},
    )


def write_episode(path: Path, n: int = 30, compress: bool = True, success: int = 1) -> Path:
    w = EpisodeWriter(path, make_attrs(compress), CAMS, flush_interval=0.1)
    for t in range(n):
        w.append(make_tick(t))
    w.close(success=success, loop_stats={"achieved_hz": 50.0, "overruns": 0})
    return path


@pytest.fixture
def episode(tmp_path: Path) -> Path:
    return write_episode(tmp_path / "episode_0.hdf5")
