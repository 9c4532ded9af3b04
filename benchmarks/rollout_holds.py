"""Which rollouts of an evaluation reached the task's top reward and which still held it at the last tick,
and when the lost ones lost it; prints JSON.

    .venv/bin/python benchmarks/rollout_holds.py RUN/eval_SNAP/rollouts [--top 4]

Reads each rollout's `reward` (one value per tick, as `demoforge eval` records it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rollouts", type=Path)
    p.add_argument("--top", type=float, default=4.0, help="the task's top reward (4 for gym-aloha's tasks)")
    a = p.parse_args()
    files = sorted(a.rollouts.glob("episode_*.hdf5"), key=lambda f: int(f.stem.rsplit("_", 1)[1]))
    reached, held, lost = 0, 0, []
    for f in files:
        with h5py.File(f, "r") as h:
            r = np.asarray(h["reward"][()])
        top = r >= a.top
        if not top.any():
            continue
        reached += 1
        if top[-1]:
            held += 1
        else:
            last = len(r) - 1 - int(np.argmax(top[::-1]))
            lost.append({"file": f.name, "first_tick": int(np.argmax(top)), "last_tick": last})
    print(json.dumps({"rollouts": len(files), "reached": reached, "held": held, "lost": lost}))


if __name__ == "__main__":
    main()
