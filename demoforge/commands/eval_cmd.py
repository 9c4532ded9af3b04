"""`demoforge eval CKPT --rig RIG`: success rates, stage rates, chunk-boundary jumps, videos, rollouts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from demoforge.commands.deploy_cmd import add_device, add_ensemble

NAME = "eval"
HELP = "evaluate a trained policy on a rig: rollouts recorded, success (needs a simulation rig's reward)"
EXAMPLES = """examples:
  demoforge eval runs/cube/best.pt --rig sim-transfer-cube --episodes 50 --out evals/cube
  demoforge eval runs/cube/best.pt --rig virtual --episodes 2 --episode-time 2 --out evals/smoke
  demoforge eval cube.onnx --rig sim-transfer-cube --episodes 50 --out evals/cube-onnx   # same scenes
writes OUT/eval.json, OUT/rollouts/ (a dataset: `demoforge check` it) and OUT/videos/*.mp4.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=Path, help="RUN/best.pt, or an .onnx file from export-policy")
    p.add_argument("--rig", required=True, help="a simulation rig for success rates; any rig runs")
    p.add_argument("--episodes", type=int, default=50, help="rollouts (default 50)")
    p.add_argument("--episode-time", type=float, help="seconds per rollout (default: 400 ticks on sim rigs)")
    p.add_argument("--out", type=Path, help="output folder (default: eval_<rig> beside the checkpoint)")
    p.add_argument("--videos", type=int, default=3, help="rollouts written as mp4 (default 3)")
    add_ensemble(p)
    add_device(p)
    p.add_argument("--unattended", action="store_true", help="no prompts (implied without a terminal)")


def run(args: argparse.Namespace) -> int:
    from demoforge.commands.deploy_cmd import ensemble_overrides
    from demoforge.policy.evaluate import SUCCESS_KEYS, evaluate

    out = args.out or args.checkpoint.parent / f"eval_{Path(args.rig).stem}"
    s = evaluate(
        args.checkpoint,
        args.rig,
        out,
        episodes=args.episodes,
        episode_time=args.episode_time,
        videos=args.videos,
        device=args.device,
        precision=args.precision,
        ensemble=ensemble_overrides(args),
    )
    short = {k: s[k] for k in ("episodes", *SUCCESS_KEYS, "stage_rates", "jumps")}
    print(json.dumps(short))
    if s.get("success_note"):
        print(s["success_note"])
    if s.get("jump_advice"):
        print(s["jump_advice"])
    print(f"wrote {out / 'eval.json'}")
    return 0
