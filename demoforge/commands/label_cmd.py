"""`demoforge label DIR EPISODE success|failure|unlabeled`: label an episode after the fact."""

from __future__ import annotations

import argparse
from pathlib import Path

from demoforge.schemas.curation import LABELS, set_label

NAME = "label"
HELP = "set an episode's success label after recording (attribute and manifest; data untouched)"
EXAMPLES = """examples:
  demoforge label data/pick_cube 3 success
  demoforge label data/pick_cube episode_7.hdf5 failure
then run `demoforge check` and `demoforge split` again: the label decides `success_label`.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, help="the dataset folder")
    p.add_argument("episode", help="episode number or file name")
    p.add_argument("label", choices=list(LABELS), help="the outcome of the episode")


def run(args: argparse.Namespace) -> int:
    path = set_label(args.dir, args.episode, args.label)
    print(f"{path.name}: {args.label} (run `demoforge check {args.dir}` and `demoforge split` again)")
    return 0
