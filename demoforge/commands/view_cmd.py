"""`demoforge view PATH`: an episode, a dataset or an eval's rollouts in the Rerun viewer."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "view"
HELP = "scrub through an episode, a dataset or an eval's rollouts in Rerun: cameras, joints, findings, trims"
EXAMPLES = """examples:
  demoforge view data/pick_cube/episode_3.hdf5        # opens a Rerun viewer
  demoforge view data/pick_cube                        # every episode, one after another, with the findings
  demoforge view runs/cube/eval                        # an evaluation's rollouts
  demoforge view data/pick_cube --save pick_cube.rrd   # no display: open the file elsewhere (`rerun FILE`)
needs the `view` extra: pip install 'demoforge[view]'. Live views: `record --view`, `deploy --view`.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="an episode file, a dataset folder, or an eval folder")
    p.add_argument(
        "--save", type=Path, metavar="FILE.rrd", help="write a Rerun file instead of opening a viewer"
    )


def run(args: argparse.Namespace) -> int:
    from demoforge.quality.episode_view import view
    from demoforge.schemas.writable import require_writable

    if args.save is not None:
        require_writable(args.save.parent, "the folder of --save", "save somewhere you may write")
    logged = view(args.path, args.save)
    where = f"wrote {args.save}" if args.save is not None else "sent to the Rerun viewer"
    print(f"{len(logged)} episode(s), {sum(logged.values())} ticks: {where}")
    return 0
