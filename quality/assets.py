"""What the HTML report shows of a flagged episode, gathered while the episode is open anyway."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import cv2
import numpy as np

from demoforge.quality.episode import Episode
from demoforge.quality.findings import ERROR, Finding
from demoforge.schemas import episode_layout as L

TRAJECTORY_POINTS = 240  # per joint; enough to see a pause or a spike, small enough for 500 episodes
HIST_BINS = 24  # frame-interval histogram bins over [0, 4 camera periods), plus one overflow bin
MAX_FINDINGS_WITH_THUMBS = 4  # per episode, errors first
THUMB_QUALITY = 70


@dataclass
class Thumb:
    cam: str
    tick: int
    time_s: float
    finding: int  # index into the episode's findings
    jpeg_b64: str


@dataclass
class EpisodeAssets:
    joint_names: list[str]
    times: np.ndarray  # (P,) s
    qpos: np.ndarray  # (P, J) float32, downsampled
    histograms: dict[str, tuple[list[float], list[int]]] = field(
        default_factory=dict
    )  # cam -> (edges ms, counts)
    thumbs: list[Thumb] = field(default_factory=list)


def _encode(img: np.ndarray) -> str:
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], (cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY))
    return base64.b64encode(buf.tobytes()).decode("ascii") if ok else ""


def _tick(ep: Episode, s: float) -> int:
    return int(np.clip(np.searchsorted(ep.times, s, side="right") - 1, 0, max(ep.length - 1, 0)))


def gather_assets(ep: Episode, findings: list[Finding]) -> EpisodeAssets:
    """Downsampled trajectories, per-camera frame-interval histograms, thumbnails around findings."""
    step = max(1, ep.length // TRAJECTORY_POINTS)
    q = ep.raw(L.QPOS)
    qpos = np.nan_to_num(q[::step]).astype(np.float32) if q is not None else np.zeros((0, 0), np.float32)
    assets = EpisodeAssets(ep.joint_names, ep.times[::step].astype(np.float32), qpos)
    for cam in ep.cameras_with("frame_time"):
        ft = ep.raw(L.frame_time_path(cam))
        assert ft is not None
        ft = ft[np.isfinite(ft)]
        intervals = np.diff(ft[np.concatenate(([True], ft[1:] != ft[:-1]))]) * 1000  # between new frames, ms
        top = 4000.0 / ep.camera_fps(cam)
        edges = np.linspace(0.0, top, HIST_BINS + 1)
        counts, _ = np.histogram(np.clip(intervals, 0, top * 1.0001), bins=[*edges.tolist(), np.inf])
        assets.histograms[cam] = (edges.round(2).tolist(), counts.tolist())
    if not ep.reader.cameras or not ep.length:
        return assets
    ranked = sorted(range(len(findings)), key=lambda i: findings[i].severity != ERROR)[
        :MAX_FINDINGS_WITH_THUMBS
    ]
    wanted: list[tuple[int, str, int]] = []
    for i in ranked:
        f = findings[i]
        named = f.detail.get("camera")
        cam = named if isinstance(named, str) and named in ep.reader.cameras else ep.reader.cameras[0]
        a, b = _tick(ep, f.start_s), _tick(ep, max(f.start_s, f.end_s - 1e-6))
        for t in sorted({max(a - 1, 0), (a + b) // 2, min(b + 1, ep.length - 1)}):
            wanted.append((i, cam, t))
    for i, cam, t in wanted:
        img = ep.thumbnail(cam, t)
        if img is not None:
            assets.thumbs.append(Thumb(cam, t, float(ep.times[t]), i, _encode(img)))
    return assets
