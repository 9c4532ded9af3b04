"""Episode file throughput: writing a 50 Hz episode with 3 cameras at 480x640 (raw and JPEG) and reading it.

Prints one JSON object. Usage: python benchmarks/bench_schema.py [--ticks 300] [--dir /tmp]
Figures: write ticks/s and MB/s (JPEG encoded on the writing thread, and pre-encoded by a
2-thread pool as the recorder does), read ticks/s for metadata only (joints, timestamps, frame times)
and for decoded images.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.schemas.episode_layout import CameraInfo, EpisodeAttrs
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.episode_writer import CameraSample, EpisodeWriter, Tick
from demoforge.schemas.jpeg import encode_jpeg

H, W, CAMS, J = 480, 640, ("cam_high", "cam_left_wrist", "cam_right_wrist"), 14


def scene_frames(n: int = 8) -> list[np.ndarray]:
    """Camera-like frames: smooth gradients, a few objects and sensor noise (JPEG ~40-70 KB)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    out = []
    for k in range(n):
        base = np.stack([x / W * 180 + 30, y / H * 120 + 60, (x + y) / (W + H) * 90 + 80 + k], -1)
        cx, cy = 200 + 30 * k, 240
        base[(x - cx) ** 2 + (y - cy) ** 2 < 60**2] = (200, 40, 40)
        base += rng.normal(0, 4, base.shape)
        out.append(np.clip(base, 0, 255).astype(np.uint8))
    return out


def make_ticks(n: int, frames: list[np.ndarray]) -> list[Tick]:
    ticks = []
    for t in range(n):
        q = np.sin(np.arange(J) + t * 0.02).astype(np.float32)
        imgs = {c: frames[(t + i) % len(frames)] for i, c in enumerate(CAMS)}
        samples = {c: CameraSample(t / 50, t, image=img) for c, img in imgs.items()}
        ticks.append(Tick(t / 50, q, q, q, q, q, samples))
    return ticks


def write(path: Path, ticks: list[Tick], compress: bool, pre_encode: bool) -> dict[str, float]:
    attrs = EpisodeAttrs(
        fps=50,
        joint_names=[f"j{i}" for i in range(J)],
        joint_limits=[(-3, 3)] * J,
        cameras=[CameraInfo(c, width=W, height=H, fps=30) for c in CAMS],
        compress=compress,
    )
    pool = ThreadPoolExecutor(2) if pre_encode else None
    t0 = time.perf_counter()
    w = EpisodeWriter(path, attrs, flush_interval=0.5)
    for tick in ticks:
        if compress:  # the writer stores JPEG bytes only: encode here (one thread) or on the pool
            if pool is not None:
                futs = {c: pool.submit(encode_jpeg, f.image, 90) for c, f in tick.frames.items()}
                jpegs = {c: f.result() for c, f in futs.items()}
            else:
                jpegs = {c: encode_jpeg(f.image, 90) for c, f in tick.frames.items()}
            tick = replace(
                tick, frames={c: replace(f, image=None, jpeg=jpegs[c]) for c, f in tick.frames.items()}
            )
        w.append(tick)
    w.close(success=1)
    dt = time.perf_counter() - t0
    if pool is not None:
        pool.shutdown()
    size = path.stat().st_size
    return {
        "ticks_per_s": round(len(ticks) / dt, 1),
        "MB_per_s": round(size / dt / 1e6, 1),
        "file_MB": round(size / 1e6, 1),
        "seconds": round(dt, 3),
    }


def read(path: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    with EpisodeReader(path) as ep:
        _ = (ep.qpos, ep.qvel, ep.effort, ep.action, ep.leader_qpos, ep.timestamps)
        for c in ep.cameras:
            ep.frame_time(c), ep.frame_index(c)
        n = ep.length
    meta = time.perf_counter() - t0
    t0 = time.perf_counter()
    with EpisodeReader(path) as ep:
        for t in range(n):
            for c in ep.cameras:
                ep.image(c, t)
    img = time.perf_counter() - t0
    return {
        "metadata_ticks_per_s": round(n / meta, 1),
        "metadata_ms_per_episode": round(meta * 1e3, 2),
        "image_ticks_per_s": round(n / img, 1),
        "image_frames_per_s": round(n * len(CAMS) / img, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=300, help="ticks per episode (50 Hz: 300 = 6 s)")
    ap.add_argument("--dir", type=Path, default=None, help="where to write (default: a temporary folder)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        ticks = make_ticks(args.ticks, scene_frames())
        results = {}
        for name, compress, pre in (
            ("raw", False, False),
            ("jpeg", True, False),
            ("jpeg_pre_encoded_2_threads", True, True),
        ):
            path = folder / f"{name}.hdf5"
            results[name] = {"write": write(path, ticks, compress, pre), "read": read(path)}
        print(
            json.dumps(
                {
                    "benchmark": "schema",
                    "machine": {
                        "cpus": os.cpu_count(),
                        "platform": platform.platform(),
                        "python": platform.python_version(),
                    },
                    "episode": {
                        "ticks": args.ticks,
                        "fps": 50,
                        "cameras": len(CAMS),
                        "size": [H, W],
                        "joints": J,
                    },
                    "results": results,
                },
                indent=1,
            )
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
