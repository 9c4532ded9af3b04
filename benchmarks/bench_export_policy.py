"""Does the exported model succeed as often as its checkpoint? The same scenes, both through `eval`.

    python benchmarks/bench_export_policy.py RUN/best.pt --out DIR [--rig sim-transfer-cube]
                                             [--episodes 50] [--episode-time SECONDS] [--fp16]

1. export   DIR/policy.onnx with `demoforge export-policy` (checked against PyTorch on training frames)
2. eval     the checkpoint (PyTorch, fp32) into DIR/eval_checkpoint, then the export (onnxruntime) into
            DIR/eval_onnx: rollout i starts from the same scene in both (evaluate.py's seed offset)
3. compare  success rates (both definitions), and per scene: in how many scenes exactly one of the two
            succeeded. Equal within noise = the exact two-sided McNemar test on those discordant scenes
            gives p >= 0.05 (50 paired rollouts cannot tell apart rates closer than that).
Each stage is skipped when its output exists, so a killed run goes on where it stopped. Prints one JSON
line. Both run in fp32 on the CPU by default (what the export is verified against); --fp16 exports the
network in half precision (for GPUs). A rollout of 400 ticks renders and infers every tick: on a 2-core
CPU, 50 + 50 rollouts of the `cpu` preset at 120x160 took 38 minutes (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from demoforge.cli import main as cli
from demoforge.policy.evaluate import SUCCESS_KEYS, evaluate
from demoforge.schemas.episode_reader import EpisodeReader


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value: the discordant pairs as a fair coin's flips."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def first_divergence(a: Path, b: Path, atol: float = 1e-3) -> int | None:
    """The first tick where the two rollouts' commands differ by more than atol (None: never)."""
    with EpisodeReader(a) as ra, EpisodeReader(b) as rb:
        x, y = ra.action, rb.action
    n = min(len(x), len(y))
    far = np.flatnonzero(np.abs(x[:n] - y[:n]).max(axis=1) > atol)
    return int(far[0]) if len(far) else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path, nargs="?", help="RUN/best.pt trained on the rig's task")
    p.add_argument("--out", type=Path)
    p.add_argument(
        "--rig",
        default="sim-transfer-cube",
        help="the rig the demonstrations were recorded on (demo and bench_learning_curve.py write "
        "DIR/rig.toml): the shipped rig renders 480x640, 16x the pixels of a 120x160 run, ~3x slower",
    )
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--episode-time", type=float, help="seconds per rollout (default: 400 ticks)")
    p.add_argument("--fp16", action="store_true", help="export in half precision (GPUs)")
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    if a.checkpoint is None or a.out is None:  # `make bench` runs every script bare
        usage = "bench_export_policy.py RUN/best.pt --out DIR"
        print(json.dumps({"skipped": f"needs a trained checkpoint: {usage}"}))
        return
    a.out.mkdir(parents=True, exist_ok=True)
    onnx_file = a.out / "policy.onnx"
    if not onnx_file.exists():
        args = ["export-policy", str(a.checkpoint), "--to", "onnx", str(onnx_file)]
        if cli(args + (["--fp16"] if a.fp16 else [])) != 0:
            raise SystemExit(2)
    evals: dict[str, dict[str, Any]] = {}
    for name, policy, precision in (
        ("checkpoint", a.checkpoint, "fp32"),
        ("onnx", onnx_file, "auto"),
    ):
        out = a.out / f"eval_{name}"
        if (out / "eval.json").is_file():
            evals[name] = json.loads((out / "eval.json").read_text())
            continue
        evals[name] = evaluate(
            policy,
            a.rig,
            out,
            episodes=a.episodes,
            episode_time=a.episode_time,
            videos=0,
            device=a.device,
            precision=precision,
        )
    ck, ox = (evals[k]["rollouts"] for k in ("checkpoint", "onnx"))
    result: dict[str, Any] = {"episodes": min(len(ck), len(ox)), "rig": a.rig}
    for key in SUCCESS_KEYS:
        pairs = [(r[key], s[key]) for r, s in zip(ck, ox, strict=False) if r[key] is not None]
        only_ck = sum(x and not y for x, y in pairs)
        only_ox = sum(y and not x for x, y in pairs)
        result[key] = {
            "checkpoint": evals["checkpoint"][key],
            "onnx": evals["onnx"][key],
            "only_checkpoint": only_ck,
            "only_onnx": only_ox,
            "mcnemar_p": round(mcnemar_p(only_ck, only_ox), 4),
        }
    ticks = [
        first_divergence(
            a.out / "eval_checkpoint" / "rollouts" / r["file"], a.out / "eval_onnx" / "rollouts" / r["file"]
        )
        for r in ck[: len(ox)]
    ]
    result["first_divergence_tick"] = ticks  # > 1e-3 in a command; None: identical throughout
    result["runtimes"] = {k: e.get("runtime") for k, e in evals.items()}
    result["scene_seeds"] = evals["onnx"]["scene_seeds"]
    result["equal_within_noise"] = all(
        result[k]["mcnemar_p"] >= 0.05 for k in SUCCESS_KEYS if result[k]["checkpoint"] is not None
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
