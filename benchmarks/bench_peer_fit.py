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

import av
import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from peer_policy import LeRobotPeerPolicy

from demoforge.policy.api import load_policy


def camera_frames(root: Path, info: dict, row: dict, key: str) -> np.ndarray:
    path = root / info["video_path"].format(
        video_key=key,
        chunk_index=row[f"videos/{key}/chunk_index"],
        file_index=row[f"videos/{key}/file_index"],
    )
    half = 0.5 / info["fps"]
    t0, t1 = row[f"videos/{key}/from_timestamp"], row[f"videos/{key}/to_timestamp"]
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(c.streams.video[0]):
            t = f.time
            if t is None:
                continue
            if t >= t1 - half:
                break
            if t >= t0 - half:
                out.append(f.to_ndarray(format="rgb24"))
    return np.stack(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", type=Path)
    ap.add_argument("pretrained", type=Path)
    ap.add_argument("ours", type=Path)
    ap.add_argument("--episodes", default="0,10,30")
    ap.add_argument("--ticks", default="0,120,240,330")
    a = ap.parse_args()
    info = json.loads((a.export / "meta" / "info.json").read_text())
    data = pq.read_table(a.export / "data").to_pydict()
    rows = {
        r["episode_index"]: r
        for p in (a.export / "meta" / "episodes").rglob("*.parquet")
        for r in pq.read_table(p).to_pylist()
    }
    names = info["features"]["action"]["names"]
    peer = LeRobotPeerPolicy(a.pretrained, names)
    ours = load_policy(a.ours, "cpu", "fp32", threads=1)
    cams = list(ours.cameras)
    samples = []
    try:
        for ep in (int(e) for e in a.episodes.split(",")):
            at = [i for i, e in enumerate(data["episode_index"]) if e == ep]
            state = np.asarray([data["observation.state"][i] for i in at], np.float32)
            action = np.asarray([data["action"][i] for i in at], np.float32)
            frames = {c: camera_frames(a.export, info, rows[ep], f"observation.images.{c}") for c in cams}
            for t in (int(t) for t in a.ticks.split(",") if int(t) < len(at)):
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
