"""Throughput of `demoforge check` on a synthetic dataset with 3 JPEG cameras; prints JSON.

    .venv/bin/python benchmarks/bench_check.py                  # 50 episodes x 400 ticks, 480x640
    .venv/bin/python benchmarks/bench_check.py --episodes 60 --ticks 300 --keep /tmp/ds
    .venv/bin/python benchmarks/bench_check.py --realistic      # real rigs' timing and motion
    .venv/bin/python benchmarks/bench_check.py --lerobot DIR    # a LeRobot dataset (AV1 video)

With --lerobot: a LeRobot v3.0/v2.1 dataset (make one with LeRobot's own writer, in the peer venv:
`python tests/data/make_lerobot_fixtures.py --out DIR --episodes 200 --size 480x640`),
timed against decoding the same videos alone (every frame of every episode span, with PyAV, at the
scale the checks decode at): `ratio_vs_decode`, goal <= 1.5.

Measures, on a warm page cache (the dataset was just written and is read once before timing),
best of --repeats (interleaved):
  baseline_h5py    every episode's non-image data plus the cameras' frame times, counters, device
                   clocks and counters (when present) and JPEG lengths, read with bare h5py, one process;
  baseline_reader  the same through schemas.EpisodeReader (which validates the layout on open);
  check_jobs_N     quality.check_dataset with N processes (pool start-up included).
`ratio_vs_*` = that time / the baseline's; the target is <= 2 for 1 job. `mb_per_s` divides the
whole files' size (images included) by the time, although only sampled frames are read.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from demoforge.schemas.episode_source import list_episodes, open_episode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.quality import Thresholds, check_dataset
from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import episode_files
from demoforge.schemas.episode_reader import EpisodeReader
from tests import factories as F
from tests import realistic_episodes as R


def build(folder: Path, episodes: int, ticks: int, size: tuple[int, int], realistic: bool) -> None:
    pool = F.JpegPool(size, n=24)
    recs = []
    for i in range(episodes):
        if realistic:  # device clock and counter, clamp, effort, late deliveries, tremor
            r, _ = R.realistic_recording(ticks / 50.0, seed=i)
            r.size = size
            if i % 10 == 3:
                R.defect_pause(r, ticks / 150, 1.2)
        else:
            r = F.clean_recording(ticks, 14, seed=i, size=size)
            if i % 10 == 3:  # a few flagged episodes, as in a real dataset
                F.plant_pause(r, ticks // 3, ticks // 3 + 60)
        recs.append(r)
    F.write_dataset(folder, recs, pool=pool)


def read_with_reader(files: list[Path]) -> None:
    for path in files:
        with EpisodeReader(path) as r:
            for name in (*L.JOINT_DATASETS, L.TIMESTAMPS):
                if name not in r.missing:
                    r.array(name, check_finite=False)
            for cam in r.cameras:
                r.frame_time(cam)
                r.frame_index(cam)
                r.jpeg_lengths(cam)
                r.optional(L.device_time_path(cam))
                r.optional(L.device_index_path(cam))
            r.optional(L.CLAMPED)


def read_with_h5py(files: list[Path]) -> None:
    for path in files:
        with h5py.File(path, "r") as f:
            for name in (*L.JOINT_DATASETS, L.TIMESTAMPS, L.COMPRESS_LEN):
                if name in f:
                    np.asarray(f[name][()])
            for group in (L.FRAME_TIME, L.FRAME_INDEX, L.DEVICE_TIME, L.DEVICE_INDEX):
                for ds in f[group].values() if group in f else ():
                    np.asarray(ds[()])
            if L.CLAMPED in f:
                np.asarray(f[L.CLAMPED][()])


def cpu_timed(fn: object, *args: object, **kw: object) -> float:
    t0 = time.process_time()
    fn(*args, **kw)  # type: ignore[operator]
    return time.process_time() - t0


def timed(fn: object, *args: object, **kw: object) -> float:
    t0 = time.perf_counter()
    fn(*args, **kw)  # type: ignore[operator]
    return time.perf_counter() - t0


def decode_lerobot(folder: Path) -> int:
    """Every episode's frames of every camera, decoded as the checks decode them; returns frames."""
    from demoforge.quality.episode import Episode

    th, n = Thresholds(), 0
    for ref in list_episodes(folder):
        with open_episode(ref) as r:
            ep = Episode(r, th)
            for cam in r.cameras:
                n += len(r.frames(cam, ep.reduce(cam)))  # type: ignore[union-attr]
    return n


def bench_lerobot(folder: Path, repeats: int) -> dict[str, object]:
    th = Thresholds()
    frames = decode_lerobot(folder)  # warm the page cache
    n = len(list_episodes(folder))
    decode = check1 = check2 = float("inf")
    for _ in range(repeats):
        decode = min(decode, timed(decode_lerobot, folder))
        check1 = min(check1, timed(check_dataset, folder, th, jobs=1))
        check2 = min(check2, timed(check_dataset, folder, th, jobs=2))
    info = json.loads((folder / "meta" / "info.json").read_text())
    videos = {k: v.get("info", {}) for k, v in info["features"].items() if v.get("dtype") == "video"}
    return {
        "benchmark": "check_lerobot",
        "command": " ".join(["python", *sys.argv]),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
        "episodes": n,
        "frames_decoded": frames,
        "cameras": {
            k: f"{v.get('video.height')}x{v.get('video.width')} {v.get('video.codec')}"
            for k, v in videos.items()
        },
        "decode_alone_s": round(decode, 3),
        "check_jobs_1": {
            "s": round(check1, 3),
            "episodes_per_s": round(n / check1, 1),
            "ratio_vs_decode": round(check1 / decode, 2),
        },
        "check_jobs_2": {
            "s": round(check2, 3),
            "episodes_per_s": round(n / check2, 1),
            "ratio_vs_decode": round(check2 / decode, 2),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--ticks", type=int, default=400)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--repeats", type=int, default=3, help="best of N timings")
    ap.add_argument(
        "--realistic",
        action="store_true",
        help="episodes from tests/realistic_episodes.py (device clock + counter, clamp, effort)",
    )
    ap.add_argument(
        "--keep", type=Path, help="build (or reuse) the dataset here instead of a temporary folder"
    )
    ap.add_argument("--lerobot", type=Path, help="time `check` on this LeRobot dataset instead")
    a = ap.parse_args()
    if a.lerobot:
        print(json.dumps(bench_lerobot(a.lerobot, a.repeats), indent=1))
        return
    folder = a.keep or Path(tempfile.mkdtemp(prefix="bench_check_"))
    try:
        t_build = 0.0
        if not episode_files(folder) if folder.is_dir() else True:
            t_build = timed(build, folder, a.episodes, a.ticks, (a.height, a.width), a.realistic)
        files = episode_files(folder)
        total_mb = sum(p.stat().st_size for p in files) / 1e6
        read_with_h5py(files)  # warm the page cache
        th = Thresholds()
        # interleaved, best of each: on a shared machine the load drifts, and each figure should see
        # the same spread of it
        h5 = reader = check1 = check2 = float("inf")
        cpu = {"baseline_h5py": math.inf, "baseline_reader": math.inf, "check_jobs_1": math.inf}
        for _ in range(a.repeats):
            h5 = min(h5, timed(read_with_h5py, files))
            cpu["baseline_h5py"] = min(cpu["baseline_h5py"], cpu_timed(read_with_h5py, files))
            reader = min(reader, timed(read_with_reader, files))
            cpu["baseline_reader"] = min(cpu["baseline_reader"], cpu_timed(read_with_reader, files))
            check1 = min(check1, timed(check_dataset, folder, th, jobs=1))
            cpu["check_jobs_1"] = min(cpu["check_jobs_1"], cpu_timed(check_dataset, folder, th, jobs=1))
            check2 = min(check2, timed(check_dataset, folder, th, jobs=2))
        report = check_dataset(folder, th, jobs=1)
        n = len(files)

        def rates(s: float) -> dict[str, float]:
            return {
                "s": round(s, 3),
                "episodes_per_s": round(n / s, 1),
                "mb_per_s": round(total_mb / s, 1),
                "ratio_vs_reader_baseline": round(s / reader, 2),
                "ratio_vs_h5py_baseline": round(s / h5, 2),
            }

        result = {
            "benchmark": "check",
            "command": " ".join(["python", *sys.argv]),
            "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
            "python": platform.python_version(),
            "episodes": n,
            "kind": "realistic" if a.realistic else "factory",
            "ticks_per_episode": a.ticks,
            "cameras": 3,
            "image": f"{a.height}x{a.width} JPEG",
            "dataset_mb": round(total_mb, 1),
            "failing_episodes": sum(e.verdict == "fail" for e in report.episodes),
            "image_samples_per_camera": th.image_samples,
            "build_s": round(t_build, 2),
            "baseline_h5py": rates(h5),
            "baseline_reader": rates(reader),
            "check_jobs_1": rates(check1),
            "check_jobs_2": rates(check2),
            # CPU time of this process (one process: the baselines and 1 job): what other jobs on a
            # shared machine disturb least
            "cpu_s": {k: round(v, 3) for k, v in cpu.items()},
            "cpu_ratio_check_vs_reader": round(cpu["check_jobs_1"] / cpu["baseline_reader"], 2),
            "cpu_ratio_check_vs_h5py": round(cpu["check_jobs_1"] / cpu["baseline_h5py"], 2),
        }
        print(json.dumps(result, indent=1))
    finally:
        if a.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
