"""Which rollouts of an evaluation reached the task's top reward and which still held it at the last tick,
and when the lost ones lost it; prints JSON.

    .venv/bin/python benchmarks/rollout_holds.py RUN/eval_SNAP/rollouts [--top 4]

Reads each rollout's per-tick reward (`/reward`, as `demoforge eval` records it) and counts reached and
held as eval.json does (`policy/evaluate.py::success_of`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.policy.evaluate import success_of
from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import episode_files
from demoforge.schemas.episode_reader import EpisodeReader


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rollouts", type=Path)
    p.add_argument("--top", type=int, default=4, help="the task's top reward (4 for gym-aloha's tasks)")
    a = p.parse_args()
    files = episode_files(a.rollouts)
    reached, held, lost = 0, 0, []
    for f in files:
        with EpisodeReader(f) as ep:
            r = ep.optional(L.REWARD)
        if r is None:
            print(f"{f}: no per-tick reward (rollouts of a simulation rig record one)", file=sys.stderr)
            sys.exit(2)
        s = success_of(r, a.top)
        if not s["success_reached"]:
            continue
        reached += 1
        if s["success_held"]:
            held += 1
        else:
            top = r >= a.top
            last = len(r) - 1 - int(np.argmax(top[::-1]))
            lost.append({"file": f.name, "first_tick": int(np.argmax(top)), "last_tick": last})
    print(json.dumps({"rollouts": len(files), "reached": reached, "held": held, "lost": lost}))


if __name__ == "__main__":
    main()
