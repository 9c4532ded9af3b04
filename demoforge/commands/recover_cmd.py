"""`demoforge recover DIR`: make episodes cut off by a crash readable again (complete=false)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "recover"
HELP = "turn episodes cut off by a crash or power cut into valid files marked complete=false"
EXAMPLES = """examples:
  demoforge recover data/pick_cube     # every cut-off episode in the dataset
exit codes: 0 every episode reads (intact or recovered), 1 some episode could not be recovered (named
above; its file is left as it was), 2 bad input (no such folder, a folder you may not write).
"""
UNRECOVERABLE_EXIT = 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", type=Path, help="the dataset folder")


def run(args: argparse.Namespace) -> int:
    from demoforge.schemas.episode_recovery import recover_dataset

    results = recover_dataset(args.dataset)
    bad = 0
    for r in results:
        if r.status == "intact":
            continue
        if r.status == "recovered":
            dropped = f"{r.dropped_rows} unfinished row(s) dropped"
            print(f"{r.file}: recovered {r.ticks} ticks (complete=false); {dropped}")
        else:
            bad += 1
            print(f"{r.file}: {r.status}")
    intact = sum(r.status == "intact" for r in results)
    recovered = len(results) - intact - bad
    print(f"{len(results)} episode(s): {intact} intact, {recovered} recovered, {bad} unrecoverable")
    return UNRECOVERABLE_EXIT if bad else 0
