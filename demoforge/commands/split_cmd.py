"""`demoforge split DIR`: cut train / val / holdout from the passing episodes of the latest report."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from demoforge.quality import make_splits
from demoforge.schemas.dataset import SPLITS
from demoforge.schemas.episode_source import resolve_dataset

NAME = "split"
HELP = "write splits.json (train / val / holdout) from the passing episodes of quality/report.json"
EXAMPLES = """examples:
  demoforge split data/pick_cube                          # 10 % val, seed 0
  demoforge split data/pick_cube --val 0.2 --holdout 5 --seed 3
  demoforge split data/pick_cube --stratify-by operator   # val/holdout drawn per operator
  demoforge split ~/lerobot/my_dataset --out checked/my_dataset   # where `check --out` wrote the report
run `demoforge check` first; the split records the report's hash and the trainer refuses it once
the report or any episode file changes. Spans the report marks for trimming (the operator idle at an
episode's start or end) are listed under `trim` in splits.json; the trainer leaves them out.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "dir", type=Path, help="dataset folder with quality/report.json (ours or a LeRobot dataset)"
    )
    p.add_argument(
        "--out", type=Path, help="the folder `check --out` wrote the report to; splits.json goes there too"
    )
    p.add_argument(
        "--val", type=float, default=0.1, help="fraction of the non-holdout episodes for validation"
    )
    p.add_argument("--holdout", type=int, default=0, help="episodes kept out of training and validation")
    p.add_argument("--seed", type=int, default=0, help="shuffling seed (the same seed gives the same split)")
    p.add_argument(
        "--stratify-by", metavar="ATTR", help="episode root attribute to stratify by (task, operator, ...)"
    )


def run(args: argparse.Namespace) -> int:
    args.dir = resolve_dataset(args.dir)  # a Hub repo id: the local cache's copy
    s = make_splits(
        args.dir,
        val=args.val,
        holdout=args.holdout,
        seed=args.seed,
        stratify_by=args.stratify_by,
        out=args.out,
    )
    console = Console()
    console.print(
        f"train {len(s.train)}, val {len(s.val)}, holdout {len(s.holdout)}, excluded {len(s.excluded)}"
    )
    if s.trim:
        seconds = sum(b - a for spans in s.trim.values() for a, b in spans)
        console.print(
            f"trimmed {seconds:.1f} s from {len(s.trim)} episodes (operator idle at the edges); the trainer "
            "leaves those spans out"
        )
    for name, reasons in list(s.excluded.items())[:20]:
        console.print(f"  [red]excluded[/] {escape(name)}: {escape(', '.join(reasons))}")
    if len(s.excluded) > 20:
        console.print(f"  ... and {len(s.excluded) - 20} more (see {SPLITS})")
    console.print(f"wrote {escape(str((args.out or args.dir) / SPLITS))}")
    return 0
