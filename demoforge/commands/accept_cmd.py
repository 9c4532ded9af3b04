"""`demoforge accept DIR EPISODE --check ID --reason TEXT`: keep an episode despite a finding."""

from __future__ import annotations

import argparse
from pathlib import Path

from demoforge.schemas.curation import OVERRIDES, set_override
from demoforge.schemas.errors import ConfigError

NAME = "accept"
HELP = "accept an episode despite named findings, with your reason (honoured by `split`)"
EXAMPLES = """examples:
  demoforge accept data/pick_cube 7 --check pause --reason "deliberate wait for the cube to settle"
  demoforge accept data/pick_cube 7 --revoke
overrides live in DIR/overrides.json; `demoforge split` honours them and copies them into splits.json.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, help="the dataset folder")
    p.add_argument("episode", help="episode number or file name")
    p.add_argument("--check", action="append", default=[], metavar="ID", help="check id to accept (repeat)")
    p.add_argument("--reason", default="", help="why the episode is fine despite the finding")
    p.add_argument("--revoke", action="store_true", help="remove the episode's override")
    p.add_argument("--out", type=Path, help="the folder `check --out` wrote the report to (a LeRobot source)")


def run(args: argparse.Namespace) -> int:
    if not args.revoke and not args.check:
        raise ConfigError(
            "nothing to accept", "name the findings with --check ID, or remove them with --revoke"
        )
    out = args.out or args.dir
    override = set_override(args.dir, args.episode, [] if args.revoke else args.check, args.reason, args.out)
    what = f"accepts {', '.join(override['accept'])}" if override else "override removed"
    again = f"{args.dir}{f' --out {args.out}' if args.out else ''}"
    print(f"{args.episode}: {what} ({out / OVERRIDES}); run `demoforge split {again}` again")
    return 0
