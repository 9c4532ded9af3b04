"""Tiny episodes written with the real EpisodeWriter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from demoforge.schemas.episode_layout import CameraInfo, EpisodeAttrs
from demoforge.schemas.episode_writer import CameraSample, EpisodeWriter, Tick
from demoforge.schemas.jpeg import encode_jpeg

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


def sample(cam: str, t: int, compress: bool) -> CameraSample:
    """Camera `cam`'s frame at tick t as the writer takes it: JPEG bytes (what EpisodeSink encodes) or RGB."""
    img = frame(cam, t)
    return CameraSample(
        capture_time=t * 0.02 - 0.004,
        index=100 + t,
        image=None if compress else img,
        jpeg=encode_jpeg(img, 90) if compress else None,
    )


def make_tick(t: int, n_joints: int = 3, compress: bool = True) -> Tick:
    q = np.sin(np.arange(n_joints) + t * 0.1).astype(np.float32)
    return Tick(
        timestamp=t * 0.02,
        qpos=q,
        qvel=q * 2,
        effort=q * 3,
        action=q + 0.01,
        leader_qpos=q - 0.01,
        frames={c: sample(c, t, compress) for c in CAMS},
    )


def write_episode(path: Path, n: int = 30, compress: bool = True, success: int = 1) -> Path:
    w = EpisodeWriter(path, make_attrs(compress), flush_interval=0.1)
    for t in range(n):
        w.append(make_tick(t, compress=compress))
    w.close(success=success, loop_stats={"achieved_hz": 50.0, "overruns": 0})
    return path


@pytest.fixture
def episode(tmp_path: Path) -> Path:
    return write_episode(tmp_path / "episode_0.hdf5")
