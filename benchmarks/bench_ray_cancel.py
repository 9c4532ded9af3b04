"""How often one `ray.cancel` fails to end a task, and whether `check --engine ray`'s Ctrl-C still frees
the cluster; prints JSON.

    .venv/bin/python benchmarks/bench_ray_cancel.py                 # 60 interrupted runs
    .venv/bin/python benchmarks/bench_ray_cancel.py --runs 200
    .venv/bin/python benchmarks/bench_ray_cancel.py --one-cancel     # as before: stops at the first hang

Each run checks the Ray tests' 10 messy episodes (tests/quality/messy_dataset.py) on a local Ray
instance of 2 CPUs and is interrupted (KeyboardInterrupt from the progress callback) at its first
result; from then on every task that starts hangs until it is killed, as a stuck reader would. Counted
per run: how many cancel rounds the engine needed until every task had ended (1 = the first cancel was
enough), tasks still running when it gave up, and whether a follow-up check on the same 2 CPUs
completed within --follow-up-s (it cannot while a task hangs).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ray

from demoforge.quality import Thresholds, check_dataset, engine_ray
from demoforge.quality.engine_ray import RayRun
from demoforge.schemas.episode_source import list_episodes
from tests.quality import ray_faults
from tests.quality.messy_dataset import write_messy_dataset


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def follow_up_completes(folder: Path, within_s: float) -> bool:
    done = threading.Event()
    t = threading.Thread(target=lambda: (check_dataset(folder, engine="ray"), done.set()), daemon=True)
    t.start()
    return done.wait(within_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--follow-up-s", type=float, default=60.0)
    ap.add_argument("--one-cancel", action="store_true", help="as before the fix: cancel once, wait 10 s")
    a = ap.parse_args()
    if a.one_cancel:
        engine_ray.CANCEL_RETRY_S = engine_ray.CANCEL_WAIT_S = 10.0
    folder = Path(tempfile.mkdtemp(prefix="bench_ray_cancel_"))
    write_messy_dataset(folder)
    files = list_episodes(folder)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    ray.cloudpickle.register_pickle_by_value(ray_faults)
    rounds: Counter[int] = Counter()
    left = hung = 0
    cancel_s: list[float] = []
    for _ in range(a.runs):
        marker = Path(tempfile.mkdtemp()) / "interrupted"

        def interrupt(result: object, marker: Path = marker) -> None:
            marker.write_text("")
            raise KeyboardInterrupt

        run = RayRun(ray, functools.partial(ray_faults.hangs_once_interrupted, marker))
        t = time.monotonic()
        try:
            run.check(files, Thresholds(), interrupt)
        except KeyboardInterrupt:
            cancel_s.append(time.monotonic() - t)
        rounds[run.cancel_rounds] += 1
        left += run.still_running
        if not follow_up_completes(folder, a.follow_up_s):
            hung += 1
            break  # the cluster's CPUs are held: later runs would measure nothing
    cancel_s.sort()
    print(
        json.dumps(
            {
                "machine": f"{cpu_model()}, {os.cpu_count()} CPUs",
                "ray": ray.__version__,
                "mode": "one cancel, then 10 s" if a.one_cancel else "cancel again each 1 s until ended",
                "runs": sum(rounds.values()),
                "cancel_rounds": {str(k): v for k, v in sorted(rounds.items())},
                "tasks_still_running_after_cancel": left,
                "follow_ups_hung": hung,
                "interrupt_to_return_s_median": round(cancel_s[len(cancel_s) // 2], 3) if cancel_s else None,
                "interrupt_to_return_s_max": round(cancel_s[-1], 3) if cancel_s else None,
            },
            indent=1,
        )
    )
    ray.shutdown()


if __name__ == "__main__":
    main()
