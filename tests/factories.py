"""Synthetic episodes and datasets with planted defects, written with the real EpisodeWriter.

`clean_recording()` builds the arrays of a defect-free episode (smooth multi-joint motion, cameras
at the control rate, capture times 4 ms before each tick, a little timing jitter); the `plant_*`
functions damage a known tick span [a, b); `write_recording()` writes the result to disk. Used by
tests/quality and benchmarks/bench_check.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_layout import CameraInfo, EpisodeAttrs, episode_name
from demoforge.schemas.episode_writer import CameraSample, EpisodeWriter, Tick
from demoforge.schemas.jpeg import encode_jpeg

CAMS = ("cam_high", "cam_left_wrist", "cam_right_wrist")
FPS = 50.0
LIMIT = 2.5  # every joint's limits are [-LIMIT, LIMIT]


@dataclass
class Recording:
    """One episode as arrays, before it is written. Frames are described, rendered on write."""

    ts: np.ndarray  # (T,)
    qpos: np.ndarray  # (T, J)
    action: np.ndarray  # (T, J)
    leader: np.ndarray  # (T, J)
    frame_time: dict[str, np.ndarray]  # cam -> (T,)
    frame_index: dict[str, np.ndarray]  # cam -> (T,) int
    frame_src: dict[str, np.ndarray]  # cam -> (T,) int: which synthetic picture each tick shows
    frame_kind: dict[str, np.ndarray]  # cam -> (T,) "<U9": normal | black | saturated
    size: tuple[int, int] = (32, 40)  # (H, W)
    success: int = 1
    complete: bool = True
    fps_attr: float = FPS
    cam_fps: float = FPS
    serials: dict[str, str] = field(default_factory=dict)
    task: str = "pick"
    operator: str = "ana"
    # what real rigs add (tests/realistic_episodes.py fills these; None / empty: not written)
    joint_names: list[str] | None = None
    limits: list[tuple[float, float]] | None = None
    effort: np.ndarray | None = None  # (T, J) present current; zeros when None
    cam_type: str = "synthetic"
    device_time: dict[str, np.ndarray] = field(default_factory=dict)  # cam -> (T,) camera clock, s
    device_index: dict[str, np.ndarray] = field(default_factory=dict)  # cam -> (T,) camera counter
    clamped: np.ndarray | None = None  # (T,) 1 where the teleop clamp fired

    @property
    def length(self) -> int:
        return len(self.ts)

    def tick_time(self, i: int) -> float:
        return float(self.ts[i])


def clean_recording(
    length: int = 100,
    n_joints: int = 6,
    *,
    seed: int = 0,
    amplitude: float = 0.5,
    size: tuple[int, int] = (32, 40),
    cams: tuple[str, ...] = CAMS,
    cam_fps: float = FPS,
) -> Recording:
    rng = np.random.default_rng(seed)
    ts = np.arange(length) / FPS + rng.uniform(-0.0005, 0.0005, length)
    ts[0] = 0.0
    # phases spread over pi so some joint always moves (>= 0.02 rad per tick at amplitude 0.5)
    # each seed moves a little differently (as two demonstrations do): otherwise they are duplicates
    phase = np.linspace(0, np.pi, n_joints, endpoint=False) + rng.uniform(-0.15, 0.15, n_joints)
    freq = 0.6 * rng.uniform(0.95, 1.05)
    t = np.arange(length)[:, None] / FPS
    action = (amplitude * np.sin(2 * np.pi * freq * t + phase) + 0.1 * np.cos(phase)).astype(np.float32)
    qpos = np.concatenate([action[:1], action[:-1]])  # the follower trails its command by one tick
    if cam_fps == FPS:  # one new frame per tick, captured 4 ms before it
        ft = {c: ts - 0.004 for c in cams}
        fidx = {c: 1000 * k + np.arange(length, dtype=np.int64) for k, c in enumerate(cams)}
    else:  # free-running cameras at their own rate and phase: each tick takes the latest frame
        ft, fidx = {}, {}
        for k, c in enumerate(cams):
            offset = (k + 1) / (len(cams) + 1) / cam_fps
            n = np.floor((ts - 0.002 - offset) * cam_fps).astype(np.int64) + 1
            ft[c] = n / cam_fps + offset - 1 / cam_fps
            fidx[c] = 1000 * k + n
    src = {c: fidx[c] - fidx[c][0] for c in cams}
    kind = {c: np.full(length, "normal", dtype="<U9") for c in cams}
    rec = Recording(
        ts,
        qpos,
        action,
        action.copy(),
        ft,
        fidx,
        src,
        kind,
        size=size,
        serials={c: f"SN{k}" for k, c in enumerate(cams)},
        cam_fps=cam_fps,
    )
    return rec


# -- defects: each damages ticks [a, b) the way the real fault would -------------------------------


def plant_pause(r: Recording, a: int, b: int) -> None:
    """The operator holds still from tick a-1 to b-1, then carries on where they stopped."""
    for arr in (r.qpos, r.action, r.leader):
        arr[:] = np.concatenate(
            [arr[:a], np.repeat(arr[a - 1 : a], b - a, axis=0), arr[a : len(arr) - (b - a)]]
        )


def plant_frame_drop(r: Recording, cam: str, a: int, b: int) -> None:
    """The camera delivered nothing new during [a, b): ticks reuse frame a-1, then the counter jumps."""
    r.frame_index[cam][a:b] = r.frame_index[cam][a - 1]
    r.frame_time[cam][a:b] = r.frame_time[cam][a - 1]
    r.frame_src[cam][a:b] = r.frame_src[cam][a - 1]


def plant_no_frame(r: Recording, cam: str, a: int, b: int) -> None:
    """The camera had no frame at all for these ticks (not started yet, or unplugged)."""
    r.frame_index[cam][a:b] = -1
    r.frame_time[cam][a:b] = np.nan


def plant_stale(r: Recording, cam: str, a: int, b: int, periods: float = 5.0) -> None:
    """Frames arrive in order but `periods` camera periods late (a backed-up driver queue)."""
    r.frame_time[cam][a:b] -= periods / FPS


def plant_frozen(r: Recording, cam: str, a: int, b: int) -> None:
    """The counter keeps advancing but the picture repeats frame a-1 (stuck driver buffer)."""
    r.frame_src[cam][a:b] = r.frame_src[cam][a - 1]


def plant_dark(r: Recording, cam: str, a: int, b: int, kind: str = "black") -> None:
    r.frame_kind[cam][a:b] = kind


def plant_desync(r: Recording, cam: str, a: int, b: int, lag_s: float = 0.045) -> None:
    r.frame_time[cam][a:b] -= lag_s


def plant_control_gap(r: Recording, a: int, gap_s: float = 0.2) -> None:
    """The loop stalled before tick a; the cameras kept counting meanwhile."""
    r.ts[a:] += gap_s
    for c in r.frame_time:
        r.frame_time[c][a:] += gap_s
        r.frame_index[c][a:] += round(gap_s * FPS)


def plant_slow_rate(r: Recording, hz: float = 40.0) -> None:
    r.ts[:] = np.arange(r.length) / hz
    for c in r.frame_time:
        r.frame_time[c][:] = r.ts - 0.004


def plant_joint_limit(r: Recording, joint: int, a: int, b: int, over: float = 0.2) -> None:
    for arr in (r.qpos, r.action):
        arr[a:b, joint] = LIMIT + over


def plant_nan(r: Recording, a: int, b: int) -> None:
    r.qpos[a:b, 0] = np.nan


def plant_action_spike(r: Recording, joint: int, a: int, size: float = 1.0) -> None:
    r.action[a, joint] += size


def plant_tracking_offset(r: Recording, joint: int, offset: float = 0.1) -> None:
    r.qpos[:, joint] += offset


# -- writing ---------------------------------------------------------------------------------------


def _picture(cam: str, src: int, kind: str, size: tuple[int, int], noise: int = 24) -> np.ndarray:
    h, w = size
    if kind == "black":
        return np.zeros((h, w, 3), np.uint8)
    if kind == "saturated":
        return np.full((h, w, 3), 255, np.uint8)
    rng = np.random.default_rng(src * 7 + len(cam))
    y, x = np.mgrid[0:h, 0:w]
    base = 60 + (x * 100 // w + y * 40 // h + src) % 120
    grain = rng.integers(0, noise, (h, w, 3))
    return (base[..., None] + grain).astype(np.uint8)


class JpegPool:
    """Pre-encoded JPEG pictures (benchmark-sized frames would take minutes to encode one by one)."""

    def __init__(self, size: tuple[int, int], n: int = 24, noise: int = 24) -> None:
        self.size, self.n, self.noise = size, n, noise
        self.cache: dict[tuple[str, int, str], np.ndarray] = {}

    def get(self, cam: str, src: int, kind: str) -> np.ndarray:
        key = (cam, src % self.n if kind == "normal" else 0, kind)
        if key not in self.cache:
            self.cache[key] = encode_jpeg(_picture(cam, key[1], kind, self.size, self.noise), 80)
        return self.cache[key]


def write_recording(path: Path, r: Recording, *, pool: JpegPool | None = None, compress: bool = True) -> Path:
    n_joints = r.qpos.shape[1]
    h, w = r.size
    attrs = EpisodeAttrs(
        fps=r.fps_attr,
        joint_names=r.joint_names or [f"joint_{j}" for j in range(n_joints)],
        joint_limits=r.limits or [(-LIMIT, LIMIT)] * n_joints,
        cameras=[
            CameraInfo(
                name=c,
                type=r.cam_type,
                serial=r.serials.get(c, ""),
                width=w,
                height=h,
                fps=r.cam_fps,
                intrinsics={"fx": 30.0, "fy": 30.0, "ppx": w / 2, "ppy": h / 2},
            )
            for c in r.frame_time
        ],
        compress=compress,
        robot="factory",
        task=r.task,
        operator=r.operator,
        started_at="2026-11-24T10:00:00Z",
    )
    # the optional datasets of the layout this recording has, written by the real writer
    optional = [L.device_time_path(c) for c in r.device_time] + [
        L.device_index_path(c) for c in r.device_index
    ]
    optional += [L.CLAMPED] if r.clamped is not None else []
    writer = EpisodeWriter(path, attrs, optional=optional)
    qvel = (np.gradient(r.qpos, axis=0) * r.fps_attr).astype(np.float32) if r.length > 1 else r.qpos * 0
    effort = np.zeros_like(r.qpos) if r.effort is None else r.effort.astype(np.float32)
    for i in range(r.length):
        frames = {}
        for c in r.frame_time:
            src, kind = int(r.frame_src[c][i]), str(r.frame_kind[c][i])
            timing = float(r.frame_time[c][i]), int(r.frame_index[c][i])
            device = {
                "device_time": float(r.device_time[c][i]) if c in r.device_time else None,
                "device_index": int(r.device_index[c][i]) if c in r.device_index else None,
            }
            if not compress:
                frames[c] = CameraSample(*timing, image=_picture(c, src, kind, r.size), **device)  # type: ignore[arg-type]
            else:  # encoded as EpisodeSink does (quality 90), or taken from the pool
                jpeg = pool.get(c, src, kind) if pool else encode_jpeg(_picture(c, src, kind, r.size), 90)
                frames[c] = CameraSample(*timing, jpeg=jpeg, **device)  # type: ignore[arg-type]
        writer.append(
            Tick(
                timestamp=float(r.ts[i]),
                qpos=r.qpos[i],
                qvel=qvel[i],
                effort=effort[i],
                action=r.action[i],
                leader_qpos=r.leader[i],
                frames=frames,
                scalars={L.CLAMPED: float(r.clamped[i])} if r.clamped is not None else {},
            )
        )
    writer.close(success=r.success, complete=r.complete, loop_stats={"achieved_hz": FPS, "overruns": 0})
    return path


def write_dataset(
    folder: Path, recordings: list[Recording], *, pool: JpegPool | None = None, compress: bool = True
) -> list[Path]:
    """Episode files episode_0 .. episode_{n-1} plus a minimal dataset.json."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [
        write_recording(folder / episode_name(i), r, pool=pool, compress=compress)
        for i, r in enumerate(recordings)
    ]
    (folder / "dataset.json").write_text(json.dumps({"name": folder.name, "episodes": []}))
    return paths


def clean_dataset(folder: Path, n: int = 5, length: int = 100, **kw: object) -> list[Path]:
    return write_dataset(folder, [clean_recording(length, seed=i, **kw) for i in range(n)])  # type: ignore[arg-type]


# -- damaged files ---------------------------------------------------------------------------------


def truncate(path: Path, fraction: float = 0.5) -> None:
    """A half-copied file: the first `fraction` of its bytes."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


_KILLED_WRITER = """
import os, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from demoforge.schemas.episode_writer import EpisodeWriter
from tests.factories import clean_recording, write_recording
r = clean_recording({length})
def die(self, **kw):
    self.flush()
    os._exit(0)   # the recorder process dies: the SWMR writer never closes
EpisodeWriter.close = die
write_recording(Path(sys.argv[1]), r)
"""


def write_cut_off(path: Path, length: int = 60) -> Path:
    """An episode whose writer process died before closing (SWMR flag still set)."""
    root = str(Path(__file__).resolve().parents[1])
    subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER.format(root=root, length=length), str(path)], check=True
    )
    return path


def write_plain_aloha(
    path: Path,
    length: int = 100,
    *,
    seed: int = 0,
    cams: tuple[str, ...] = ("top",),
    size: tuple[int, int] = (32, 40),
) -> Path:
    """An episode as the original ACT/ALOHA recorder wrote it: no timestamps, counters or our attributes."""
    import h5py

    r = clean_recording(length, 14, seed=seed, cams=cams, size=size)
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = True
        obs = f.create_group("observations")
        obs.create_dataset("qpos", data=r.qpos)
        obs.create_dataset("qvel", data=np.zeros_like(r.qpos))
        f.create_dataset("action", data=r.action)
        imgs = obs.create_group("images")
        for c in cams:
            imgs.create_dataset(c, data=np.stack([_picture(c, i, "normal", r.size) for i in range(length)]))
    return path
