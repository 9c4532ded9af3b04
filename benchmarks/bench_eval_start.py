"""Do eval rollouts start alike whatever the runtime? A checkpoint and its ONNX export on the same scenes.

    python benchmarks/bench_eval_start.py [RUN/best.pt] --out DIR [--episodes 3] [--episode-time 1]

Without a checkpoint, an untrained `tiny` policy for sim-transfer-cube's cam_high (seconds to run; its
actions stay near the start pose). Prints JSON: per rollout its scene seed, how far apart the two
evaluations' first recorded follower positions are (rad), how far each is from a fresh reset of the
scene (rad; checkpoint, onnx: 0 = the rollout started from the reset), and the largest difference in
their commands over the rollout.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from demoforge.policy.evaluate import evaluate
from demoforge.schemas.episode_reader import EpisodeReader


def tiny_checkpoint(path: Path, start: list[float]) -> Path:
    import torch

    from demoforge.policy.act import ACT
    from demoforge.policy.checkpoint import save_checkpoint
    from demoforge.policy.config import make_config
    from demoforge.policy.data import Stats

    torch.manual_seed(0)
    cfg = make_config("tiny")
    z, one = np.zeros(14, np.float32), np.ones(14, np.float32)
    stats = Stats(z, one, np.asarray(start, np.float32), one * 0.01)
    save_checkpoint(
        path, ACT(cfg.model, 14, 1), cfg, stats, {"cameras": ["cam_high"], "n_joints": 14, "step": 0}
    )
    return path


def main() -> None:
    from demoforge.collect.rigs import resolve_rig

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path, nargs="?", help="RUN/best.pt (default: an untrained tiny one)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--episode-time", type=float, default=1.0)
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    ckpt = a.checkpoint or tiny_checkpoint(a.out / "best.pt", resolve_rig("sim-transfer-cube").start_pose)
    onnx_file = a.out / "policy.onnx"
    if not onnx_file.exists():  # random inputs for the export's check: no training data needed here
        from demoforge.policy.checkpoint import load_policy as load_trained
        from demoforge.policy.export import export_onnx, random_samples

        export_onnx(ckpt, onnx_file, random_samples(load_trained(ckpt)), fps=50.0)
    evals = {
        name: evaluate(
            policy,
            "sim-transfer-cube",
            a.out / f"eval_{name}",
            episodes=a.episodes,
            episode_time=a.episode_time,
            videos=0,
            device="cpu",
            precision=precision,
        )
        for name, policy, precision in (("checkpoint", ckpt, "fp32"), ("onnx", onnx_file, "auto"))
    }
    from demoforge.collect.sim.scene import SimScene

    scene = SimScene("transfer_cube")
    rows = []
    for ck, ox in zip(evals["checkpoint"]["rollouts"], evals["onnx"]["rollouts"], strict=True):
        with (
            EpisodeReader(a.out / "eval_checkpoint" / "rollouts" / ck["file"]) as r,
            EpisodeReader(a.out / "eval_onnx" / "rollouts" / ox["file"]) as s,
        ):
            scene.reset(ck["scene_seed"])
            fresh = scene.qpos()
            rows.append(
                {
                    "start_off_reset": [float(np.abs(x.qpos[0] - fresh).max()) for x in (r, s)],
                    "file": ck["file"],
                    "scene_seed": ck["scene_seed"],
                    "start_qpos_diff": float(np.abs(r.qpos[0] - s.qpos[0]).max()),
                    "action_diff_max": float(np.abs(r.action - s.action).max()),
                }
            )
    print(json.dumps({"runtimes": [e["runtime"] for e in evals.values()], "rollouts": rows}))


if __name__ == "__main__":
    main()
