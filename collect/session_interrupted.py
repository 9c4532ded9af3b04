"""What a session interrupted by Ctrl-C leaves behind, told to the operator with the one command to run.

The recorder keeps an interrupted episode (nothing recorded is lost): cut off mid-episode it stays
`complete=false` and unlabelled, and `demoforge check` keeps it out of training; stopped at the keep
prompt it is complete but unlabelled, and one `demoforge label` makes it usable.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from demoforge.schemas.episode_layout import episode_name
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.errors import EpisodeError


def interrupted_summary(rec: Any, rig_arg: str, dataset: Path) -> list[str]:
    """Lines for the terminal: what was kept, complete or cut off, labelled or not, and what to run."""
    d = shlex.quote(str(dataset))
    lines = [f"interrupted: {rec.tally.line()} in {dataset}"]
    decided = {r.path for r in rec.results if r.path is not None}
    path = dataset / episode_name(rec.episode_index)
    left = max(0, rec.opt.episodes - rec.tally.kept)
    more = f"demoforge record --rig {shlex.quote(rig_arg)} --dataset {d} --episodes {left}"
    if path.exists() and path not in decided:
        try:
            with EpisodeReader(path) as ep:
                complete, success, seconds = ep.complete, ep.success, ep.length / (ep.fps or 1.0)
        except EpisodeError as e:
            lines.append(f"{path.name} could not be read back ({e.message}): run `demoforge recover {d}`")
            return lines
        n = rec.episode_index
        if not complete:
            lines.append(
                f"{path.name} was cut off at {seconds:.1f} s and kept as it is (complete=false, unlabelled): "
                f"`demoforge check` keeps it out of training. To record the rest: `{more}`"
            )
            return lines
        if success == -1:
            lines.append(
                f"{path.name} is complete ({seconds:.1f} s) but unlabelled: "
                f"`demoforge label {d} {n} success` (or `failure`)"
            )
            return lines
        lines.append(f"{path.name} is complete ({seconds:.1f} s) and labelled")
    if left:
        lines.append(f"to record the rest: `{more}`")
    return lines
