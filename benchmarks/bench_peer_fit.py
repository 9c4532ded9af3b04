"""Open-loop fit of our checkpoint and LeRobot's on the same exported training frames: is the peer right?

    python benchmarks/bench_peer_fit.py EXPORT PRETRAINED_MODEL OURS.pt [--episodes 0,10,30]
                                        [--ticks 0,120,240,330]

EXPORT is the `demoforge export --to lerobot` folder LeRobot trained on, PRETRAINED_MODEL its checkpoint
(peer_lerobot_train.py), OURS.pt ours trained on the same split. At each (episode, tick) both policies
get the exported frame (decoded with PyAV, as LeRobot trained on it) and state, and their chunks are
compared with the recorded actions of the next chunk_size ticks. Prints JSON: the mean absolute error
(rad; grippers in their 0..1 units) per policy, overall and per sample. A LeRobot policy whose images
or normalization were passed wrongly fits its own training data far worse than ours; equal errors say
the rollouts' differences are the policies' own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peer_policy import LeRobotPeerPolicy

from demoforge.policy.api import load_policy
from demoforge.schemas import lerobot_layout as LR
from demoforge.schemas.lerobot_reader import LeRobotSource


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", type=Path)
    ap.add_argument("pretrained", type=Path)
    ap.add_argument("ours", type=Path)
    ap.add_argument("--episodes", default="0,10,30")
    ap.add_argument("--ticks", default="0,120,240,330")
    a = ap.parse_args()
    source = LeRobotSource(a.export)  # our reader of LeRobot datasets: rows, and frames decoded with PyAV
    peer = LeRobotPeerPolicy(a.pretrained, source.joint_names(LR.ACTION))
    ours = load_policy(a.ours, "cpu", "fp32", threads=1)
    samples = []
    try:
        for ep in (int(e) for e in a.episodes.split(",")):
            with source.open(ep) as r:
                state, action = r.qpos, r.action
                frames = {c: r.frames(c) for c in ours.cameras}
            for t in (int(t) for t in a.ticks.split(",") if int(t) < len(state)):
                images = {c: f[t] for c, f in frames.items()}
                target = action[t : t + ours.chunk_size]
                err = {}
                for name, policy in (("lerobot", peer), ("ours", ours)):
                    chunk = policy.predict_chunk(images, state[t])[: len(target)]
                    err[name] = round(float(np.abs(chunk - target).mean()), 5)
                samples.append({"episode": ep, "tick": t, **err})
    finally:
        peer.close()
    print(
        json.dumps(
            {
                "mean_abs_error": {
                    k: round(float(np.mean([s[k] for s in samples])), 5) for k in ("lerobot", "ours")
                },
                "samples": samples,
                "lerobot": str(a.pretrained),
                "ours": str(a.ours),
            }
        )
    )


if __name__ == "__main__":
    main()
