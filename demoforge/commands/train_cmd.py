"""`demoforge train DIR --out RUN`: train ACT on the dataset's curated split."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "train"
HELP = "train an ACT policy on the train/val episodes of DIR/splits.json"
EXAMPLES = """examples:
  demoforge train data/pick_cube --out runs/pick_cube --preset cpu
  demoforge train data/pick_cube --out runs/pick_cube --resume          # after a kill: from last.pt
  demoforge train data/pick_cube --out runs/big --config mine.toml --backbone-weights resnet18.pth
  torchrun --nproc_per_node 4 -m demoforge train data/pick_cube --out runs/ddp --preset paper
needs `demoforge check DIR` then `demoforge split DIR` first; writes RUN/best.pt, last.pt, metrics.jsonl,
loss.png, run.json, config.toml.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, help="dataset folder with splits.json (ours or a LeRobot dataset)")
    p.add_argument(
        "--reports", type=Path, help="the folder `check --out` and `split --out` wrote to (a LeRobot source)"
    )
    p.add_argument("--out", required=True, type=Path, help="run folder (created)")
    p.add_argument(
        "--preset", choices=("tiny", "cpu", "paper"), default="paper", help="base settings (default: paper)"
    )
    p.add_argument(
        "--config", type=Path, help="TOML with [model] [train] [ensemble] settings over the preset"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue RUN from its last.pt (the run's own config)"
    )
    p.add_argument("--cache", action="store_true", help="decode every frame into memory first (if it fits)")
    p.add_argument("--backbone-weights", type=Path, help="local torchvision ImageNet ResNet checkpoint")
    p.add_argument("--steps", type=int, help="override train.steps (also with --resume: train longer)")
    p.add_argument(
        "--unattended", action="store_true", help="plain progress lines (implied without a terminal)"
    )


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from demoforge.policy.config import load_config
    from demoforge.policy.train import train
    from demoforge.schemas.episode_source import resolve_dataset
    from demoforge.schemas.writable import require_writable

    require_writable(args.out, "the run folder", "train into a folder you may write: --out RUN")
    cfg = load_config(args.config, args.preset)
    changes: dict[str, object] = {}
    if args.backbone_weights is not None:
        changes["backbone_weights"] = str(args.backbone_weights)
    if changes:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **changes))  # type: ignore[arg-type]
    live = sys.stdout.isatty() and not args.unattended
    summary = train(
        resolve_dataset(args.dir),
        args.out,
        cfg,
        resume=args.resume,
        cache=args.cache,
        live=live,
        steps=args.steps,
        reports=args.reports,
    )
    if summary:
        best = summary["best"]
        print(
            f"{summary['steps']} steps in {summary['wall_s']:.0f} s; best val loss "
            f"{best['val_loss']:.4f} at step {best['step']} -> {args.out / 'best.pt'}"
        )
    return 0
