"""`demoforge inspect PATH`: what an episode file or a dataset folder holds."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import DISCARDED, MANIFEST, discarded_episodes
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.episode_source import (
    AnyEpisodeReader,
    list_episodes,
    open_episode,
    resolve_dataset,
    source_of,
)
from demoforge.schemas.errors import ConfigError, EpisodeError

NAME = "inspect"
HELP = "show the datasets, shapes, attributes and completeness of an episode or a dataset"
EXAMPLES = """examples:
  demoforge inspect data/pick_cube                  # one row per episode
  demoforge inspect data/pick_cube/episode_3.hdf5   # datasets, attributes, cameras
  demoforge inspect data/pick_cube/discarded/episode_3.20261125T101500.hdf5.discarded
  demoforge inspect ~/lerobot/my_dataset            # a LeRobot v3.0/v2.1 dataset
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="an episode file (kept or discarded) or a dataset folder")
    p.add_argument(
        "--fps",
        type=float,
        default=L.ALOHA_FPS,
        help="rate of files without an fps attribute (plain ALOHA; default 50, as `check` assumes)",
    )


def run(args: argparse.Namespace) -> int:
    console = Console()
    path: Path = resolve_dataset(args.path)
    if not args.fps > 0:
        raise ConfigError(f"--fps {args.fps} is not a positive rate", "use e.g. --fps 50")
    if path.is_dir():
        _dataset(console, path, args.fps)
    else:
        _episode(console, path, args.fps)
    return 0


def _dataset(console: Console, folder: Path, fps: float) -> None:
    files = list_episodes(folder)
    lerobot = source_of(folder)
    table = Table(
        title=f"{folder}  ({len(files)} episodes{', ' + MANIFEST if (folder / MANIFEST).exists() else ''})"
    )
    for col in ("episode", "ticks", "seconds", "joints", "cameras", "success", "complete", "note"):
        table.add_column(
            col,
            justify="right" if col in ("ticks", "seconds", "joints", "cameras") else "left",
            no_wrap=col == "episode",
            overflow="fold",
        )
    total, unknown = 0.0, 0
    for f in files:
        try:
            with _open(f, fps) as ep:
                duration = ep.duration
                if duration is None:
                    unknown += 1
                else:
                    total += duration
                label = {1: "yes", 0: "[red]no[/]", -1: "[yellow]unlabeled[/]"}[ep.success]
                note = (
                    "cut off: run `demoforge recover`"
                    if ep.cut_off
                    else (
                        f"LeRobot {lerobot.version}"
                        if lerobot is not None
                        else ("plain ALOHA" if _lacks_extensions(ep) else "")
                    )
                )
                if getattr(ep, "fps_assumed", False):
                    note = "; ".join(n for n in (note, f"no fps attribute: {fps:g} Hz assumed") if n)
                table.add_row(
                    f.name,
                    str(ep.length),
                    "?" if duration is None else f"{duration:.2f}",
                    str(ep.n_joints),
                    str(len(ep.cameras)),
                    label,
                    "yes" if ep.complete else "[red]no[/]",
                    note,
                )
        except EpisodeError as e:
            table.add_row(f.name, "-", "-", "-", "-", "-", "-", f"[red]{escape(e.message)}[/]")
    console.print(table)
    console.print(
        f"total recorded time: {total:.1f} s"
        + (f" (and {unknown} episode(s) of unknown duration: no fps attribute)" if unknown else "")
    )
    if lerobot is None and (kept_aside := discarded_episodes(folder)):
        console.print(
            f"{len(kept_aside)} discarded episodes kept in {folder / DISCARDED} "
            "(`demoforge restore FILE` brings one back)"
        )


def _open(ref: object, fps: float) -> AnyEpisodeReader:
    from demoforge.schemas.episode_source import EpisodeRef

    assert isinstance(ref, EpisodeRef)
    return EpisodeReader(ref.path, default_fps=fps) if ref.episode_index is None else open_episode(ref)


def _lacks_extensions(ep: AnyEpisodeReader) -> bool:
    """Our core additions are missing (a plain ALOHA/ACT file); optional datasets do not count."""
    return any(m not in ep.optional_missing for m in ep.missing)


def _episode(console: Console, path: Path, fps: float) -> None:
    with EpisodeReader(path, default_fps=fps) as ep:
        duration = f"{ep.duration:.2f} s" + (
            f", {fps:g} Hz assumed: no fps attribute" if ep.fps_assumed else ""
        )
        table = Table(title=f"{path}  ({ep.length} ticks, {duration})")
        table.add_column("dataset")
        table.add_column("shape", justify="right")
        table.add_column("dtype")
        for name, shape, dtype in ep.datasets():
            table.add_row(name, str(shape), dtype)
        console.print(table)
        attrs = Table(title="attributes")
        attrs.add_column("name")
        attrs.add_column("value", overflow="fold")
        for k in sorted(ep.attrs):
            v = str(ep.attrs[k]).replace("\n", " ")
            attrs.add_row(k, escape(v if len(v) < 300 else v[:297] + "..."))
        console.print(attrs)
        rate = f"{ep.fps:g} Hz" if ep.fps else "unknown rate"
        state = (
            "complete"
            if ep.complete
            else ("[red]cut off[/] (run `demoforge recover`)" if ep.cut_off else "[red]incomplete[/]")
        )
        console.print(
            f"{rate}, {state}, cameras: {', '.join(ep.cameras) or 'none'}{' (JPEG)' if ep.compressed else ''}"
        )
        core = [m for m in ep.missing if m not in ep.optional_missing]
        if core:
            console.print(f"[yellow]not in this file[/] (plain ALOHA/ACT layout?): {', '.join(core)}")
        if ep.optional_missing:
            console.print(f"optional datasets not recorded: {', '.join(ep.optional_missing)}")
