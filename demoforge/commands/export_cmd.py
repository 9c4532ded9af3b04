"""`demoforge export DIR --to lerobot|aloha OUT`: the curated episodes in another project's format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from demoforge.schemas.episode_source import resolve_dataset
from demoforge.schemas.export_clips import parse_splits
from demoforge.schemas.writable import require_writable

NAME = "export"
HELP = "write the split's episodes (trims applied) as a LeRobot v3.0 dataset or ACT/ALOHA episode files"
EXAMPLES = """examples:
  demoforge export data/pick_cube --to lerobot out/pick_cube_lerobot            # the train split
  demoforge export data/pick_cube --to lerobot out/all --split train,val --vcodec av1
  demoforge export data/pick_cube --to aloha out/pick_cube_act --same-length    # for the original ACT
  demoforge export data/pick_cube --to aloha out/pick_cube_app --jpeg           # for act-plus-plus
run `demoforge check` and `demoforge split` first: only the split's episodes are exported, and each
exported episode's source file and ticks are listed in demoforge_source.json.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, help="dataset folder with splits.json")
    p.add_argument("--to", required=True, choices=("lerobot", "aloha"), help="the format to write")
    p.add_argument("out", type=Path, help="output folder (new, or empty)")
    p.add_argument("--split", default="train", help="train, val, holdout, a list (train,val) or all")
    p.add_argument("--vcodec", choices=("h264", "av1"), default="h264", help="lerobot: video codec")
    p.add_argument(
        "--video-file-mb", type=float, default=200, help="lerobot: start a camera's next mp4 past this size"
    )
    images = p.add_mutually_exclusive_group()
    images.add_argument("--raw", action="store_true", help="aloha: raw frames (default; original ACT)")
    images.add_argument("--jpeg", action="store_true", help="aloha: JPEG in the ALOHA convention")
    p.add_argument(
        "--same-length",
        action="store_true",
        help="aloha: cut every episode to the shortest (the original ACT loader needs equal lengths)",
    )
    p.add_argument(
        "--reports",
        type=Path,
        help="the folder `check --out` and `split --out` wrote to (a read-only or LeRobot source)",
    )
    p.add_argument(
        "--fps",
        type=float,
        help="rate of episode files without an fps attribute (default: the rate `check` assumed for them)",
    )
    p.add_argument("--unattended", action="store_true", help="plain progress lines instead of a bar")


def run(args: argparse.Namespace) -> int:
    args.dir = resolve_dataset(args.dir)  # a Hub repo id: the local cache's copy
    splits = parse_splits(args.split)
    require_writable(args.out, "the export folder", "export into a folder you may write: another OUT")
    console = Console()
    unattended = args.unattended or not sys.stdin.isatty() or not console.is_terminal
    with Progress(console=console, disable=unattended) as bar:
        task = bar.add_task(f"export to {args.to}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            if unattended:
                console.print(f"exported {done}/{total} episodes")

        if args.to == "lerobot":
            from demoforge.schemas.export_lerobot import export_lerobot

            export_lerobot(
                args.dir,
                args.out,
                splits,
                codec=args.vcodec,
                video_file_mb=args.video_file_mb,
                progress=progress,
                fps=args.fps,
                reports=args.reports,
            )
            console.print(f"wrote a LeRobot v3.0 dataset to {escape(str(args.out))}")
        else:
            from demoforge.schemas.export_aloha import export_aloha

            files = export_aloha(
                args.dir,
                args.out,
                splits,
                jpeg=args.jpeg,
                same_length=args.same_length,
                progress=progress,
                fps=args.fps,
            )
            console.print(f"wrote {len(files)} episodes to {escape(str(args.out))}")
            _warn_unequal(console, files, args.same_length)
    return 0


def _warn_unequal(console: Console, files: list[Path], same_length: bool) -> None:
    import h5py

    lengths = set()
    for f in files:
        with h5py.File(f, "r") as h:
            lengths.add(int(h["/action"].shape[0]))
    if len(lengths) > 1 and not same_length:
        console.print(
            f"[yellow]note:[/] episode lengths differ ({min(lengths)}..{max(lengths)} ticks): act-plus-plus "
            "reads them, the original ACT loader does not (add --same-length to cut them to the shortest)"
        )
