"""`demoforge restore FILE`: bring a discarded episode back into its dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from demoforge.schemas.dataset import MANIFEST, Manifest, episode_entry, restore_episode
from demoforge.schemas.episode_reader import EpisodeReader

NAME = "restore"
HELP = "bring a discarded episode back into its dataset as the next episode_<i>.hdf5"
EXAMPLES = """examples:
  demoforge inspect data/pick_cube                  # lists how many episodes were discarded
  demoforge restore data/pick_cube/discarded/episode_3.20261125T101500.hdf5.discarded
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="a file in the dataset's discarded/ folder")


def run(args: argparse.Namespace) -> int:
    with EpisodeReader(args.file):  # refuse a damaged file before moving it
        pass
    restored = restore_episode(args.file)
    dataset = restored.parent
    if (dataset / MANIFEST).exists():
        manifest = Manifest.load(dataset)
        manifest.upsert(episode_entry(restored))
        manifest.save(dataset)
    Console().print(f"restored {args.file.name} as {restored}")
    return 0
