"""Dynamixel bus round trips on the emulator (in its own process), through the real dynamixel-sdk.

Prints JSON: for a 9-motor chain, sync read (present current+velocity+position) + sync write
(goal position) round trips per second over a line timed at 1 Mbit/s, at 4 Mbit/s, and over a
zero-latency line (the software ceiling); then the cost of one 50 Hz control tick for 4 arm pairs
(8 buses: read 4 leaders, read 4 followers, write 4 followers, in joint units via ArmBus), the
buses one after another in one thread, and with one thread per bus.

    .venv/bin/python benchmarks/bench_bus.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.collect import calibration as cal
from demoforge.collect.arm import ArmBus
from demoforge.collect.virtual_rig import start_virtual_chains
from demoforge.schemas.rig import Rig, parse_rig

LINE_BAUD = {"1M": 1_000_000, "4M": 4_000_000, "ideal": 4_000_000}
JOINTS = [  # ALOHA-like: 9 motors, 7 joints, shadows on shoulder and elbow
    ("waist", [1], "xm430-w350", "xm540-w270", [-3.0, 3.0], "revolute"),
    ("shoulder", [2, 3], "xm430-w350", "xm540-w270", [-1.8, 1.3], "revolute"),
    ("elbow", [4, 5], "xm430-w350", "xm540-w270", [-1.7, 1.6], "revolute"),
    ("forearm_roll", [6], "xl430-w250", "xm540-w270", [-3.0, 3.0], "revolute"),
    ("wrist_angle", [7], "xl430-w250", "xm540-w270", [-1.8, 2.1], "revolute"),
    ("wrist_rotate", [8], "xl430-w250", "xm430-w350", [-3.0, 3.0], "revolute"),
    ("gripper", [9], "xl330-m288", "xm430-w350", [0.0, 1.0], "gripper"),
]


def rig(n_arms: int, line: str, folder: Path) -> Rig:
    arms = []
    for a in range(n_arms):
        joints = [
            {
                "name": n,
                "leader_ids": ids,
                "follower_ids": ids,
                "leader_model": lm,
                "follower_model": fm,
                "limits": lim,
                "kind": kind,
            }
            for n, ids, lm, fm, lim, kind in JOINTS
        ]
        arms.append(
            {
                "name": f"arm{a}",
                "joints": joints,
                "leader": {"port": f"emulator:leader{a}", "baudrate": LINE_BAUD[line]},
                "follower": {"port": f"emulator:follower{a}", "baudrate": LINE_BAUD[line]},
            }
        )
    return parse_rig({"name": "bench", "fps": 50, "arms": arms}, str(folder / "bench.toml"))


def stats_us(samples: list[float]) -> dict[str, float]:
    a = np.array(samples) * 1e6
    return {
        "mean_us": round(float(a.mean()), 1),
        "p50_us": round(float(np.percentile(a, 50)), 1),
        "p99_us": round(float(np.percentile(a, 99)), 1),
        "max_us": round(float(a.max()), 1),
    }


def one_chain(line: str, seconds: float, folder: Path) -> dict[str, Any]:
    r = rig(1, line, folder)
    arm = r.arms[0]
    with (
        start_virtual_chains(r, line=line, operator=False, mode="process"),
        ArmBus(arm, "follower", cal.identity(arm)) as follower,
    ):
        follower.set_modes()
        follower.torque(True)
        bus = follower.bus
        goal = np.full(len(bus.ids), 2048)
        reads: list[float] = []
        writes: list[float] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            bus.sync_read_state()
            t1 = time.perf_counter()
            bus.sync_write_goal(goal)
            writes.append(time.perf_counter() - t1)
            reads.append(t1 - t0)
        pairs = len(reads)
        return {
            "line": line,
            "motors": len(bus.ids),
            "read_write_pairs_per_s": round(pairs / (sum(reads) + sum(writes)), 1),
            "sync_read": stats_us(reads),
            "sync_write": stats_us(writes),
            "retries": bus.stats.retries,
            "failures": bus.stats.failures,
        }


def four_arm_tick(line: str, seconds: float, folder: Path, parallel: bool) -> dict[str, Any]:
    """One control tick for 4 arm pairs; `parallel`: one thread per bus (each is its own serial line)."""
    r = rig(4, line, folder)
    pool = ThreadPoolExecutor(8) if parallel else None
    with start_virtual_chains(r, line=line, operator=True, mode="process"):
        leaders = [ArmBus(a, "leader", cal.identity(a)).open() for a in r.arms]
        followers = [ArmBus(a, "follower", cal.identity(a)).open() for a in r.arms]
        for f in followers:
            f.set_modes()
            f.torque(True)
        ticks: list[float] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            if pool is None:
                goals = [leader.read()[0] for leader in leaders]
                for f in followers:
                    f.read()
                for f, g in zip(followers, goals, strict=True):
                    f.write(g)
            else:
                reads = list(pool.map(lambda b: b.read()[0], leaders + followers))
                list(pool.map(lambda fg: fg[0].write(fg[1]), zip(followers, reads[:4], strict=True)))
            ticks.append(time.perf_counter() - t0)
        for bus in leaders + followers:
            bus.close()
    if pool is not None:
        pool.shutdown()
    s = stats_us(ticks)
    return {
        "line": line,
        "arms": 4,
        "buses": 8,
        "threads": 8 if parallel else 1,
        "tick": s,
        "budget_used_p50_percent": round(s["p50_us"] / 20_000 * 100, 1),
        "budget_used_p99_percent": round(s["p99_us"] / 20_000 * 100, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = {
            "benchmark": "bus",
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "emulator": "separate process (spawn), one selector loop for all chains",
            "one_chain_9_motors": [one_chain(line, args.seconds, folder) for line in ("ideal", "4M", "1M")],
            "tick_4_arms_50hz": [
                four_arm_tick(line, args.seconds, folder, parallel)
                for parallel in (False, True)
                for line in ("ideal", "4M", "1M")
            ],
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
