"""Speed of `demoforge export --to lerobot` (and `--to aloha`) on synthetic episodes; prints JSON.

    .venv/bin/python benchmarks/bench_export.py                       # 4 episodes x 400 ticks, 3 x 480x640
    .venv/bin/python benchmarks/bench_export.py --episodes 8 --codec av1

The episodes are what the virtual rig records: 3 JPEG cameras showing the synthetic camera's moving
texture (so the video encoder sees motion, not a still), 14 joints, 50 Hz. Timed: the whole export
(JPEG decode, video encode, parquet tables, statistics), best of --repeats, on a warm page cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.collect.cameras.synthetic import SyntheticCamera
from demoforge.schemas.episode_layout import CameraInfo, EpisodeAttrs, episode_name
from demoforge.schemas.episode_writer import CameraSample, EpisodeWriter, Tick
from demoforge.schemas.export_aloha import export_aloha
from demoforge.schemas.export_lerobot import export_lerobot
from demoforge.schemas.jpeg import encode_jpeg
from tests.schemas.export_fixtures import curate

CAMS = ("cam_high", "cam_left_wrist", "cam_right_wrist")
JOINTS = 14
FPS = 50.0
CYCLE = 100  # distinct frames per camera, encoded once and repeated (encoding 3 x 400 frames x N is slow)


def build(folder: Path, episodes: int, ticks: int, size: tuple[int, int]) -> None:
    h, w = size
    payloads = {}
    for k, cam in enumerate(CAMS):
        source = SyntheticCamera(cam, w, h, 30.0, seed=k)
        payloads[cam] = [encode_jpeg(source.render(i), 90) for i in range(CYCLE)]
    attrs = EpisodeAttrs(
        fps=FPS,
        joint_names=[f"joint_{j}" for j in range(JOINTS)],
        joint_limits=[(-3.0, 3.0)] * JOINTS,
        cameras=[CameraInfo(name=c, type="synthetic", width=w, height=h, fps=FPS) for c in CAMS],
        robot="aloha",
        task="bench export",
    )
    folder.mkdir(parents=True)
    for e in range(episodes):
        writer = EpisodeWriter(folder / episode_name(e), attrs)
        for t in range(ticks):
            q = np.sin(np.arange(JOINTS) + 0.05 * t + e).astype(np.float32)
            frames = {c: CameraSample(t / FPS - 0.004, t, jpeg=payloads[c][(t + e) % CYCLE]) for c in CAMS}
            writer.append(Tick(t / FPS, q, q * 0.1, q * 5, q + 0.01, q, frames))
        writer.close(success=1)
    curate(folder, train=[episode_name(e) for e in range(episodes)])


def timed(fn: object, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=4)
    p.add_argument("--ticks", type=int, default=400)
    p.add_argument("--size", default="480x640", help="HxW of every camera")
    p.add_argument("--codec", choices=("h264", "av1"), default="h264")
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()
    h, w = (int(x) for x in a.size.split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="bench_export."))
    try:
        ds = tmp / "ds"
        build(ds, a.episodes, a.ticks, (h, w))
        n = 0

        def lerobot() -> None:
            nonlocal n
            n += 1
            export_lerobot(ds, tmp / f"lerobot{n}", ["train"], codec=a.codec)

        def aloha() -> None:
            nonlocal n
            n += 1
            export_aloha(ds, tmp / f"aloha{n}", ["train"])

        t_lerobot = timed(lerobot, a.repeats)
        out_mb = sum(f.stat().st_size for f in (tmp / "lerobot1").rglob("*") if f.is_file()) / 1e6
        src_mb = sum(f.stat().st_size for f in ds.glob("*.hdf5")) / 1e6
        t_aloha = timed(aloha, a.repeats)
        frames = a.episodes * a.ticks * len(CAMS)
        print(
            json.dumps(
                {
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "episodes": a.episodes,
                    "ticks_per_episode": a.ticks,
                    "cameras": f"{len(CAMS)} x {h}x{w} JPEG",
                    "codec": a.codec,
                    "lerobot_s": round(t_lerobot, 2),
                    "lerobot_episodes_per_s": round(a.episodes / t_lerobot, 3),
                    "lerobot_camera_frames_per_s": round(frames / t_lerobot, 1),
                    "lerobot_realtime_factor": round(a.episodes * a.ticks / FPS / t_lerobot, 2),
                    "source_mb": round(src_mb, 1),
                    "lerobot_mb": round(out_mb, 1),
                    "aloha_raw_s": round(t_aloha, 2),
                    "aloha_raw_episodes_per_s": round(a.episodes / t_aloha, 3),
                },
                indent=1,
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
