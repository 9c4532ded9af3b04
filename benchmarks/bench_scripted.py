"""Success rate of the scripted operator on the simulated rigs, through the recorder's teleop map.

Each episode: the scene reset with seed i (gym-aloha's object poses), the scripted operator's
leader joints rounded to whole encoder ticks exactly as the emulated leader reads them
(`SimHardware(leader="direct")`; tests/collect/test_sim.py shows the emulated buses give the same
trajectory tick for tick), the teleop map's clamps, physics only (no cameras). Success = the task's
top reward at the last step, as the recorder labels it.

Prints one JSON object. Usage: python benchmarks/bench_scripted.py [--seeds 200] [--steps 400]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.collect.rigs import resolve_rig
from demoforge.collect.sim.hardware import SimHardware
from demoforge.collect.teleop import LeaderFollowerMap
from demoforge.schemas import episode_layout as L


def run_task(rig_name: str, seeds: int, steps: int) -> dict[str, object]:
    rig = dataclasses.replace(resolve_rig(rig_name), cameras=())
    hw = SimHardware(rig, leader="direct").open()
    teleop = LeaderFollowerMap(rig)
    failures, stages = [], np.zeros(5, int)  # stages: episodes whose reward reached 1..4 at some step
    t0 = time.perf_counter()
    try:
        for seed in range(seeds):
            hw.reset_now(seed)
            measured = hw.read_followers()[0]
            teleop.reset(measured)
            rewards = []
            for _ in range(steps):  # as the control loop: the goal is guarded by the last measurement
                measured, _, _ = hw.write_and_read_followers(teleop(hw.read_leaders(), measured))
                rewards.append(hw.tick_extras()[L.REWARD])
            r = np.asarray(rewards)
            for level in range(1, 5):
                stages[level] += bool((r >= level).any())
            if not hw.success({L.REWARD: r[-1]}):
                failures.append({"seed": seed, "last_reward": float(r[-1]), "max_reward": float(r.max())})
    finally:
        hw.close()
    wall = time.perf_counter() - t0
    return {
        "rig": rig_name,
        "episodes": seeds,
        "steps": steps,
        "success_rate": round(1 - len(failures) / seeds, 4),
        "reached_reward": {str(k): int(stages[k]) for k in range(1, 5)},
        "failures": failures,
        "control_steps_per_s": round(seeds * steps / wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument(
        "--steps", type=int, default=400, help="400 (ACT paper, the rigs' default) or 300 (gym-aloha)"
    )
    ap.add_argument("--rigs", nargs="+", default=["sim-transfer-cube", "sim-insertion"])
    args = ap.parse_args()
    out = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}",
        "results": [run_task(r, args.seeds, args.steps) for r in args.rigs],
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
