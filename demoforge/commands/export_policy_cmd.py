"""`demoforge export-policy CHECKPOINT --to onnx OUT.onnx`: the trained policy as one ONNX model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "export-policy"
HELP = "export a trained policy as one ONNX model (checked against PyTorch before it is written)"
EXAMPLES = """examples:
  demoforge export-policy runs/cube/best.pt --to onnx cube.onnx
  demoforge export-policy runs/cube/best.pt --to onnx cube-fp16.onnx --fp16     # for GPUs / TensorRT
  demoforge export-policy runs/cube/best.pt --to onnx cube.onnx --data data/cube # dataset moved
then `demoforge deploy --checkpoint cube.onnx ...`, `demoforge eval cube.onnx ...`, or
load_policy("cube.onnx") in your own code (docs/edge-deployment.md). Exporting needs the train and edge
extras; the robot needs only edge.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=Path, help="RUN/best.pt from `demoforge train`")
    p.add_argument("--to", required=True, choices=("onnx",), help="the format (onnx)")
    p.add_argument("out", type=Path, help="the file to write, OUT.onnx")
    p.add_argument("--fp16", action="store_true", help="half-precision network, for GPUs and TensorRT")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    p.add_argument("--data", type=Path, help="the training dataset (default: the one RUN/run.json names)")
    p.add_argument("--samples", type=int, default=8, help="training observations to compare on (default 8)")
    p.add_argument(
        "--tolerance",
        type=float,
        help="largest accepted difference from PyTorch, in action stds (default 1e-3; 2e-2 with --fp16)",
    )


def run(args: argparse.Namespace) -> int:
    from demoforge.policy.checkpoint import load_checkpoint
    from demoforge.policy.export import export_onnx, training_samples

    meta = load_checkpoint(args.checkpoint)["meta"]
    samples, info = training_samples(
        args.checkpoint, [str(c) for c in meta["cameras"]], args.data, args.samples
    )
    result = export_onnx(
        args.checkpoint,
        args.out,
        samples,
        fps=float(info["fps"]),
        joint_names=info.get("joint_names"),
        fp16=args.fp16,
        opset=args.opset,
        tolerance=args.tolerance,
    )
    print(json.dumps(result))
    print(
        f"wrote {args.out}: onnxruntime within {result['max_diff_std']:.2g} action std of PyTorch "
        f"on {result['samples']} training samples"
    )
    return 0
