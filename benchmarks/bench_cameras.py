"""Camera throughput, frame age at read time and CPU use, three cameras at a time; prints JSON.

Three paths, each with N cameras (default 3 at 640x480, 30 fps) capturing on their own threads while
a 50 Hz deadline loop (as the recorder's control thread) takes `latest()` from each:

- realsense_playback: pyrealsense2 pipelines playing .db3 files made by `make_playback_file`
- opencv_file: OpenCV reading MJPG .avi files paced at their rate (decode + BGR->RGB per frame)
- synthetic: SyntheticCamera

Reported per path: delivered fps per camera (frames the capture threads published / wall time),
frame age when the consumer reads it (every tick: `age_ms`; the first read of each new frame:
`fresh_age_ms`), p50/p99, and CPU = process CPU time / wall time over the measured window (1.0 =
one core busy). Files are generated first and not counted.

    python benchmarks/bench_cameras.py --duration 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from demoforge.collect.cameras import OpenCVCamera, RealSenseCamera, SyntheticCamera
from demoforge.collect.cameras.base import CaptureThread
from demoforge.collect.cameras.realsense_playback import make_playback_file

TICK_HZ = 50.0


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    a = np.asarray(values) * 1000.0
    return {
        "p50": round(float(np.percentile(a, 50)), 2),
        "p99": round(float(np.percentile(a, 99)), 2),
        "max": round(float(a.max()), 2),
    }


def measure(cams: list[CaptureThread], duration: float) -> dict[str, Any]:
    """Start the cameras, read them at 50 Hz on deadlines for `duration` s, stop them."""
    for cam in cams:
        cam.start()
    try:
        frames0 = [cam.health().frames for cam in cams]
        cpu0, wall0 = time.process_time(), time.monotonic()
        ages: list[float] = []
        fresh: list[float] = []
        seen = [-1] * len(cams)
        wake = threading.Event()  # never set: wait() is an interruptible sleep until the deadline
        tick = 0
        while True:
            deadline = wall0 + tick / TICK_HZ
            if deadline > wall0 + duration:
                break
            if (wait := deadline - time.monotonic()) > 0:
                wake.wait(wait)
            tick += 1
            for k, cam in enumerate(cams):
                f = cam.latest()
                now = time.monotonic()
                if f is None:
                    continue
                ages.append(now - f.capture_time)
                if f.index != seen[k]:
                    fresh.append(now - f.capture_time)
                    seen[k] = f.index
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
        fps = [(cam.health().frames - n0) / wall for cam, n0 in zip(cams, frames0, strict=True)]
        healthy = all(cam.health().ok for cam in cams)
    finally:
        for cam in cams:
            cam.stop()
    return {
        "cameras": len(cams),
        "fps_per_camera": [round(x, 2) for x in fps],
        "age_ms": percentiles(ages),
        "fresh_age_ms": percentiles(fresh),
        "cpu_cores": round(cpu / wall, 3),
        "ticks": tick,
        "healthy_at_end": healthy,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per path")
    ap.add_argument("--cameras", type=int, default=3)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--only", choices=["realsense_playback", "opencv_file", "synthetic"], action="append")
    args = ap.parse_args()
    w, h, fps, n = args.width, args.height, args.fps, args.cameras
    frames = int((args.duration + 2.0) * fps)  # files outlast the measured window (start-up included)
    paths = args.only or ["realsense_playback", "opencv_file", "synthetic"]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        render = SyntheticCamera("gen", w, h, fps).render
        if "realsense_playback" in paths:
            files = [make_playback_file(Path(tmp) / f"cam{k}.db3", w, h, fps, frames) for k in range(n)]
            cams: list[CaptureThread] = [
                RealSenseCamera(f"cam{k}", str(p), w, h, fps) for k, p in enumerate(files)
            ]
            results["realsense_playback"] = measure(cams, args.duration)
        if "opencv_file" in paths:
            video = Path(tmp) / "cam.avi"
            out = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
            for i in range(frames):
                out.write(cv2.cvtColor(render(i), cv2.COLOR_RGB2BGR))
            out.release()
            cams = [OpenCVCamera(f"cam{k}", str(video), w, h, fps) for k in range(n)]
            results["opencv_file"] = measure(cams, args.duration)
        if "synthetic" in paths:
            cams = [SyntheticCamera(f"cam{k}", w, h, fps, seed=k) for k in range(n)]
            results["synthetic"] = measure(cams, args.duration)
    try:
        import pyrealsense2 as rs

        rs_version = getattr(rs, "__version__", "?")
    except ImportError:
        rs_version = "not installed"
    print(
        json.dumps(
            {
                "benchmark": "cameras",
                "machine": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(),
                    "opencv": cv2.__version__,
                    "pyrealsense2": rs_version,
                    "gpu": "none used",
                },
                "config": {
                    "cameras": n,
                    "width": w,
                    "height": h,
                    "fps": fps,
                    "consumer_hz": TICK_HZ,
                    "duration_s": args.duration,
                },
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
