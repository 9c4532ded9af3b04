"""Throughput of `demoforge check` on a synthetic dataset with 3 JPEG cameras; prints JSON.

    .venv/bin/python benchmarks/bench_check.py                  # 50 episodes x 400 ticks, 480x640
    .venv/bin/python benchmarks/bench_check.py --episodes 60 --ticks 300 --keep /tmp/ds
    .venv/bin/python benchmarks/bench_check.py --realistic      # real rigs' timing and motion
    .venv/bin/python benchmarks/bench_check.py --lerobot DIR    # a LeRobot dataset (AV1 video)
    .venv/bin/python benchmarks/bench_check.py --engine ray     # also on a local Ray instance
    .venv/bin/python benchmarks/bench_check.py --synthetic 10000 --engine ray --keep /tmp/syn10k

With --lerobot: a LeRobot v3.0/v2.1 dataset (make one with LeRobot's own writer, in the peer venv:
`python tests/data/make_lerobot_fixtures.py --out DIR --episodes 200 --size 480x640`),
timed against decoding the same videos alone (every frame of every episode span, with PyAV, at the
scale the checks decode at): `ratio_vs_decode`, goal <= 1.5.

Measures, on a warm page cache (the dataset was just written and is read once before timing),
best of --repeats (interleaved):
  baseline_h5py    every episode's non-image data plus the cameras' frame times, counters, device
                   clocks and counters (when present) and JPEG lengths, read with bare h5py, one process;
  baseline_reader  the same through schemas.EpisodeReader (which validates the layout on open);
  check_jobs_N     quality.check_dataset with N processes (pool start-up included);
  check_ray        with --engine ray: the same on a local Ray instance of this machine's CPUs, started
                   before timing (as a cluster would be; `ray_init_s` is its start-up), and its ratio to
                   check_jobs_2, the local pool on the same CPUs (goal <= 1.25).
With --driver-only N: the dataset-level checks alone over N made-up summaries (14 joints): the part
that stays on the driver, whatever the cluster's size.
With --synthetic N: N episodes without cameras (14 joints, --ticks each; a few templates written by the
real writer, copied, and given their own joint data), checked once with --engine; prints the time and
the driver's memory: RSS before the check, its peak, and the pickled size of what it keeps per episode
(run it at 1000 and 10000: the driver should grow by the results only).
`ratio_vs_*` = that time / the baseline's; the target is <= 2 for 1 job. `mb_per_s` divides the
whole files' size (images included) by the time, although only sampled frames are read.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import resource
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
from demoforge.quality.runner import run_dataset_checks
from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import episode_files, episode_name
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


SYNTHETIC_TEMPLATES = 8


def _synthetic_part(folder: Path, ticks: int, indices: list[int]) -> None:
    """Copies of the templates, each given its own joint data (as its own seed would record it)."""
    for i in indices:
        path = folder / episode_name(i)
        shutil.copyfile(folder / episode_name(i % SYNTHETIC_TEMPLATES), path)
        r = F.clean_recording(ticks, 14, seed=i, cams=())
        with h5py.File(path, "r+") as f:
            f[L.TIMESTAMPS][...] = r.ts
            f[L.QPOS][...] = r.qpos
            f[L.ACTION][...] = r.action
            f[L.LEADER_QPOS][...] = r.leader


def build_synthetic(folder: Path, episodes: int, ticks: int) -> None:
    """`episodes` files without images, fast: the real writer writes a few, the rest are patched copies."""
    from concurrent.futures import ProcessPoolExecutor

    recs = [F.clean_recording(ticks, 14, seed=i, cams=()) for i in range(min(SYNTHETIC_TEMPLATES, episodes))]
    F.write_dataset(folder, recs)
    rest = list(range(len(recs), episodes))
    n = os.cpu_count() or 1
    with ProcessPoolExecutor(n) as pool:
        list(pool.map(_synthetic_part, [folder] * n, [ticks] * n, [rest[k::n] for k in range(n)]))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def bench_synthetic(a: argparse.Namespace) -> dict[str, object]:
    folder = a.keep or Path(tempfile.mkdtemp(prefix="bench_check_syn_"))
    try:
        t_build = 0.0
        if not (folder.is_dir() and len(episode_files(folder)) == a.synthetic):
            t_build = timed(build_synthetic, folder, a.synthetic, a.ticks)
        th = Thresholds()
        if a.engine == "ray":
            import ray

            t0 = time.perf_counter()
            ray.init(include_dashboard=False, log_to_driver=False, logging_level="warning")
            init_s = time.perf_counter() - t0
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        report = check_dataset(folder, th, engine=a.engine, jobs=a.jobs)
        t = time.perf_counter() - t0
        kept = sum(len(pickle.dumps(e)) for e in report.episodes) / 1e6
        n = len(report.episodes)
        rss1, peak = _rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # the part that stays on the driver and grows with the dataset, timed again on its own (it adds
        # its findings a second time to these results, which are not used after this)
        t_driver = timed(run_dataset_checks, report.episodes, th)
        return {
            "benchmark": "check_synthetic",
            "command": " ".join(["python", *sys.argv]),
            "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
            "engine": a.engine,
            "episodes": n,
            "ticks_per_episode": a.ticks,
            "cameras": 0,
            "build_s": round(t_build, 1),
            **({"ray_init_s": round(init_s, 2)} if a.engine == "ray" else {}),
            "check_s": round(t, 2),
            "episodes_per_s": round(n / t, 1),
            "failing_episodes": sum(e.verdict == "fail" for e in report.episodes),
            "driver_rss_before_mb": round(rss0, 1),
            "driver_rss_after_mb": round(rss1, 1),
            "driver_peak_rss_mb": round(peak, 1),
            "dataset_checks_on_driver_s": round(t_driver, 2),
            "results_pickled_mb": round(kept, 2),
            "results_pickled_kb_per_episode": round(kept * 1000 / n, 2),
        }
    finally:
        if a.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def bench_driver(n: int) -> dict[str, object]:
    """The dataset checks alone (what stays on the driver) over `n` made-up episode summaries."""
    from demoforge.quality.checks_dataset import TRACE_POINTS, EpisodeSummary
    from demoforge.quality.runner import EpisodeResult

    rng = np.random.default_rng(0)
    eps = []
    for i in range(n):
        trace = rng.uniform(-1, 1, (TRACE_POINTS, 14)).astype(np.float32)
        length = int(rng.integers(200, 600))
        s = EpisodeSummary(
            episode_name(i), True, length, length / 15, float(rng.uniform(0.2, 0.4)),
            rng.normal(0, 0.05, 14).tolist(), [f"j{j}" for j in range(14)], {}, "task", trace, None, f"d{i}",
        )  # fmt: skip
        eps.append(EpisodeResult(s.file, {}, length, s.duration, 15.0, [], {}, {}, s))
    rss0 = _rss_mb()
    t = timed(run_dataset_checks, eps, Thresholds())
    return {
        "benchmark": "check_dataset_checks_on_driver",
        "command": " ".join(["python", *sys.argv]),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
        "episodes": n,
        "s": round(t, 2),
        "rss_before_mb": round(rss0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


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
    ap.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="ray: also time check on a local Ray instance (against the local pool); with --synthetic: "
        "the engine that checks it",
    )
    ap.add_argument("--jobs", type=int, default=2, help="with --synthetic: processes or Ray CPUs")
    ap.add_argument("--synthetic", type=int, help="N episodes without cameras instead (e.g. 10000)")
    ap.add_argument(
        "--driver-only", type=int, help="time only the dataset checks, over N made-up episode summaries"
    )
    a = ap.parse_args()
    if a.driver_only:
        print(json.dumps(bench_driver(a.driver_only), indent=1))
        return
    if a.synthetic:
        print(json.dumps(bench_synthetic(a), indent=1))
        return
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
        ray_s, init_s = float("inf"), None
        if a.engine == "ray":  # started once, as a cluster would be; its start-up reported apart
            import ray

            t0 = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
            init_s = time.perf_counter() - t0
            check_dataset(folder, th, engine="ray")  # workers import demoforge once, as pool workers do
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
            if init_s is not None:
                ray_s = min(ray_s, timed(check_dataset, folder, th, engine="ray"))
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
            **(
                {
                    "ray_init_s": round(init_s, 2),
                    "check_ray": rates(ray_s),
                    "ray_vs_check_jobs_2": round(ray_s / check2, 2),
                }
                if init_s is not None
                else {}
            ),
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
