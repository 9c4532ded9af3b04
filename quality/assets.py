"""What the HTML report shows of an episode, gathered in the worker while the episode is open anyway.

Every episode: its first frame per camera, tiny (the contact sheet). Flagged episodes: downsampled
follower / command / leader trajectories, per-camera frame-interval histograms, and each camera's frame
at each local incident, large enough to judge (whole-episode findings have no moment to show).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import cv2
import numpy as np

from demoforge.quality.episode import Episode
from demoforge.quality.findings import ERROR, Finding
from demoforge.quality.incidents import cameras_of, group_incidents
from demoforge.schemas import episode_layout as L
from demoforge.schemas.errors import EpisodeError

TRAJECTORY_POINTS = 150  # per joint and signal: a 0.5 s pause stays visible in a 60 s episode
HIST_BINS = 24  # frame-interval histogram bins over [0, 4 camera periods), plus one overflow bin
HIST_PERIODS = 4.0
MAX_INCIDENTS_WITH_FRAMES = 3  # per episode: errors first, then in time order
FRAME_WIDTH = 320  # px of an incident frame: a 640-wide JPEG decodes at 1/2 scale to exactly this
FRAME_QUALITY = 72
CONTACT_WIDTH = 64  # px of a contact-sheet frame: enough to see a bumped camera or a light change


@dataclass
class IncidentFrames:
    root_check: str  # the incident's root finding (incident numbers can shift when the dataset
    root_start_s: float  # checks add findings later, so frames are matched to incidents by root)
    tick: int
    time_s: float
    jpegs: dict[str, str]  # cam -> base64 JPEG


@dataclass
class Histogram:
    edges_ms: list[float]  # HIST_BINS + 1 edges; the last bin (overflow) holds everything beyond
    counts: list[int]  # HIST_BINS + 1 counts
    nominal_ms: float  # the camera's nominal period


@dataclass
class EpisodeAssets:
    joint_names: list[str]
    times: np.ndarray  # (P,) s
    qpos: np.ndarray  # (P, J) follower, downsampled
    action: np.ndarray | None = None  # (P, J) command
    leader: np.ndarray | None = None  # (P, J) leader reading
    histograms: dict[str, Histogram] = field(default_factory=dict)
    frames: list[IncidentFrames] = field(default_factory=list)


def encode_b64(img: np.ndarray, quality: int = FRAME_QUALITY) -> str:
    """RGB image -> base64 true-colour JPEG for an <img> data URL."""
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], (cv2.IMWRITE_JPEG_QUALITY, quality))
    return base64.b64encode(buf.tobytes()).decode("ascii") if ok else ""


def _tick(ep: Episode, s: float) -> int:
    return int(np.clip(np.searchsorted(ep.times, s, side="right") - 1, 0, max(ep.length - 1, 0)))


def _frame(ep: Episode, cam: str, t: int, width: int) -> np.ndarray | None:
    """A frame decoded near `width` (JPEG scaled decoding), resized down to it; None if undecodable."""
    w0 = int(ep.camera_info.get(cam, {}).get("width") or 0)
    factor = next((f for f in (8, 4, 2) if w0 // f >= width), 1)
    try:
        img = ep.reader.image(cam, t, reduce=factor)
    except EpisodeError:
        return None
    h, w = img.shape[:2]
    if w > width:
        img = cv2.resize(img, (width, max(1, h * width // w)), interpolation=cv2.INTER_AREA)
    return img


def first_frames(ep: Episode) -> dict[str, np.ndarray]:
    """Each camera's first frame, CONTACT_WIDTH wide, for the contact sheet."""
    out: dict[str, np.ndarray] = {}
    if ep.length:
        for cam in ep.reader.cameras:
            img = _frame(ep, cam, 0, CONTACT_WIDTH)
            if img is not None:
                out[cam] = img
    return out


def _signal(ep: Episode, name: str, step: int) -> np.ndarray | None:
    try:
        a = ep.raw(name)
    except EpisodeError:
        return None
    return None if a is None or a.ndim != 2 else np.nan_to_num(a[::step]).astype(np.float32)


def _histogram(ep: Episode, cam: str) -> Histogram:
    ft = ep.raw(L.frame_time_path(cam))
    assert ft is not None
    ft = ft[np.isfinite(ft)]
    intervals = np.diff(ft[np.concatenate(([True], ft[1:] != ft[:-1]))]) * 1000  # between new frames, ms
    nominal = 1000.0 / ep.camera_fps(cam)
    top = HIST_PERIODS * nominal
    edges = np.linspace(0.0, top, HIST_BINS + 1)
    counts, _ = np.histogram(np.clip(intervals, 0, top * 1.0001), bins=[*edges.tolist(), np.inf])
    return Histogram(edges.round(2).tolist(), counts.tolist(), round(nominal, 3))


def gather_assets(ep: Episode, findings: list[Finding]) -> EpisodeAssets:
    """Downsampled trajectories, frame-interval histograms, each camera's frame at each local incident."""
    step = max(1, ep.length // TRAJECTORY_POINTS)
    qpos = _signal(ep, L.QPOS, step)
    assets = EpisodeAssets(
        ep.joint_names,
        ep.times[::step].astype(np.float32),
        qpos if qpos is not None else np.zeros((0, 0), np.float32),
        _signal(ep, L.ACTION, step),
        _signal(ep, L.LEADER_QPOS, step),
    )
    for cam in ep.cameras_with("frame_time"):
        assets.histograms[cam] = _histogram(ep, cam)
    if not ep.reader.cameras or not ep.length:
        return assets
    local = [i for i in group_incidents(findings, ep.duration) if i.is_moment(ep.duration)]
    local.sort(key=lambda i: (i.severity != ERROR, i.start_s))
    for inc in sorted(local[:MAX_INCIDENTS_WITH_FRAMES], key=lambda i: i.start_s):
        root = findings[inc.root]
        # the middle of the root finding: for a drop or a freeze, the frame the loop kept using
        t = _tick(ep, (root.start_s + root.end_s) / 2)
        cams = sorted(cameras_of(root)) + [c for c in ep.reader.cameras if c not in cameras_of(root)]
        jpegs = {}
        for cam in cams:
            img = _frame(ep, cam, t, FRAME_WIDTH)
            if img is not None:
                jpegs[cam] = encode_b64(img)
        assets.frames.append(IncidentFrames(root.check, root.start_s, t, float(ep.times[t]), jpegs))
    return assets
