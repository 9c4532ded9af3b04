"""`demoforge record`: record episodes of a rig into a dataset folder."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from demoforge.schemas.dataset import MANIFEST

NAME = "record"
HELP = "record leader-follower demonstrations (joints + cameras at the rig's rate) into a dataset"
EXAMPLES = """examples:
  demoforge record --rig virtual --dataset data/try --episodes 3 --episode-time 5   # no hardware needed
  demoforge record --rig aloha --dataset data/pick_cube --episodes 50 --task "pick up the cube"
  demoforge record --rig koch.toml --dataset data/koch --unattended --episodes 10 --label success
  demoforge record --rig sim-transfer-cube --dataset data/sim_cube --episodes 50   # gym-aloha, labelled
  demoforge record --rig sim-insertion --dataset data/sim_ins --episodes 200 --no-render   # physics only

keys (attended): SPACE or a gripper squeeze on the leader starts, SPACE stops early;
then s = success, f = failure, u = unlabeled, d = discard, r = re-record; q quits.
h (or Ctrl-C) stops: the followers hold where they are until c (continue) or r then y (rest and quit).
"""

LABELS = {"success": 1, "failure": 0, "none": -1}


# gym-aloha seeds numpy's RandomState (< 2**32) with seed + file number. Fresh seeds start at 10**6:
# evaluation rollouts use the rig's seed + 100000 + i (policy/evaluate.py EVAL_SEED_OFFSET), and a
# policy is never scored on scenes a recording used.
FRESH_SEEDS = (10**6, 2**31)
MAX_SEED = 2**32 - 1 - 10**6  # room for a million episodes after it


def fresh_seed() -> int:
    import secrets

    return FRESH_SEEDS[0] + secrets.randbelow(FRESH_SEEDS[1] - FRESH_SEEDS[0])


def note_session(dataset: Path, rig: Any, seed: int) -> None:
    """Write this session's scene seed into dataset.json before the first episode (a crash keeps it)."""
    from demoforge.schemas.dataset import Manifest, next_episode_index, utc_now

    dataset.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.load_or_create(dataset, dataset.name, rig.snapshot())
    first = next_episode_index(dataset)
    manifest.sessions.append({"started_at": utc_now(), "seed": seed, "first_episode": first})
    manifest.save(dataset)


@contextlib.contextmanager
def no_folder_left_on_refusal(dataset: Path) -> Iterator[None]:
    """A session refused before its first episode (no hardware, a fault at open) leaves no new folder.

    Only a folder this session created, holding nothing but the manifest it wrote, is removed: a later
    `--rig NAME` could otherwise find a stray folder of that name where it looks for rig files.
    """
    existed = dataset.exists()
    try:
        yield
    except BaseException:
        if not existed and dataset.is_dir() and {p.name for p in dataset.iterdir()} <= {MANIFEST}:
            shutil.rmtree(dataset, ignore_errors=True)
        raise


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rig",
        required=True,
        help="a shipped rig (virtual, aloha, koch, sim-transfer-cube, sim-insertion) or a rig TOML file",
    )
    p.add_argument(
        "--line",
        choices=("ideal", "1M", "4M"),
        default="ideal",
        help="virtual rigs: emulated bus timing (default: ideal, no line delay)",
    )


def add_view(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--view",
        nargs="?",
        const="",
        metavar="FILE.rrd",
        help="show the cameras and joints live in a Rerun viewer (10 samples/s, off the control thread); "
        "with FILE.rrd write them there instead (no display). Needs the `view` extra",
    )


def open_view(args: argparse.Namespace, rig: Any) -> Any:
    """The LiveView `--view` asks for, or None."""
    if args.view is None:
        return None
    from demoforge.collect.live_view import LiveView

    return LiveView(rig, save=Path(args.view) if args.view else None)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument("--dataset", required=True, type=Path, help="the dataset folder (created if missing)")
    p.add_argument("--episodes", type=int, default=1, help="episodes to keep (default: 1)")
    p.add_argument("--task", default="", help="free text stored in every episode")
    p.add_argument("--operator", default="", help="who recorded (default: the login name)")
    p.add_argument("--episode-time", type=float, help="seconds per episode (default: the rig's)")
    p.add_argument("--reset-time", type=float, help="seconds between episodes (default: the rig's)")
    p.add_argument(
        "--label",
        choices=sorted(LABELS),
        default="none",
        help="unattended: success label given to every episode (default: none = unlabeled)",
    )
    p.add_argument("--raw", action="store_true", help="store raw RGB images instead of JPEG")
    p.add_argument(
        "--no-render",
        action="store_true",
        help="simulated rigs: physics only, no cameras (measures the scripted operator fast)",
    )
    p.add_argument(
        "--seed",
        type=int,
        help="simulated rigs: scene seed of this session, episode_<i> places its objects with SEED + i "
        "(default: a fresh one per session, so sessions record different scenes; it is written to "
        "dataset.json, and --seed with it records the same scenes again)",
    )
    p.add_argument(
        "--inject",
        action="append",
        default=[],
        metavar="SPEC",
        help="virtual and sim rigs: plant a fault, KIND[.TARGET]@EPISODE:START[+DURATION], e.g. "
        "pause@1:1.5+1.2 or drop.cam_high@2:2+0.3 (kinds: pause, drop, freeze, black, stall, gone, "
        "short, long; sim rigs also slow, hesitant, limit, miss); the truth goes to DATASET/faults.json",
    )
    add_view(p)
    p.add_argument(
        "--unattended",
        action="store_true",
        help="no prompts: fixed durations, plain progress lines (implied when stdin is not a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    from demoforge.collect.operator_display import LiveDisplay, PlainDisplay
    from demoforge.collect.operator_keys import TerminalKeys
    from demoforge.collect.recorder import Recorder, RecordOptions
    from demoforge.collect.rigs import resolve_rig
    from demoforge.collect.virtual_faults import parse_fault
    from demoforge.schemas.errors import ConfigError
    from demoforge.schemas.writable import require_writable

    rig = resolve_rig(args.rig)
    if args.no_render:
        if rig.simulation is None:
            raise ConfigError(f"--no-render: rig {rig.name} is not simulated", "use it with a sim-* rig")
        rig = dataclasses.replace(rig, cameras=())
    seed = None
    if rig.simulation is not None:
        seed = fresh_seed() if args.seed is None else args.seed
        if not 0 <= seed <= MAX_SEED:
            raise ConfigError(f"--seed {seed} is out of range", f"use 0 .. {MAX_SEED}")
        rig = dataclasses.replace(rig, simulation=dataclasses.replace(rig.simulation, seed=seed))
    elif args.seed is not None:
        raise ConfigError(f"--seed: rig {rig.name} is not simulated", "use it with a sim-* rig")
    for name in ("episodes", "episode_time", "reset_time"):
        v = getattr(args, name)
        if v is not None and v <= 0 and not (name == "reset_time" and v == 0):
            raise ConfigError(
                f"--{name.replace('_', '-')} must be positive, got {v}", "pass a positive number"
            )
    require_writable(args.dataset, "the dataset folder", "record into a folder you may write: --dataset DIR")
    unattended = args.unattended or not sys.stdin.isatty()
    opts = RecordOptions(
        dataset=args.dataset,
        episodes=args.episodes,
        task=args.task,
        operator=args.operator,
        episode_time=args.episode_time,
        reset_time=args.reset_time,
        unattended=unattended,
        label=LABELS[args.label],
        compress=False if args.raw else None,
        line=args.line,
        faults=tuple(parse_fault(s) for s in args.inject),
    )
    view = open_view(args, rig)
    opts = dataclasses.replace(opts, view=view)
    recorder = None
    try:
        with no_folder_left_on_refusal(args.dataset):
            if seed is not None:
                note_session(args.dataset, rig, seed)
                print(f"scene seed {seed} (record these scenes again with --seed {seed})", flush=True)
            if unattended:
                with PlainDisplay() as display:
                    print(
                        f"recording {args.episodes} episode(s) of {rig.name} into {args.dataset}", flush=True
                    )
                    recorder = Recorder(rig, opts, display=display)
                    results = recorder.run()
            else:
                with TerminalKeys() as keys, LiveDisplay() as display:
                    recorder = Recorder(rig, opts, operator=keys, display=display)
                    results = recorder.run()
    except KeyboardInterrupt:
        if recorder is not None and args.dataset.is_dir():
            from demoforge.collect.session_interrupted import interrupted_summary

            for line in interrupted_summary(recorder, args.rig, args.dataset):
                print(line, flush=True)
        raise
    finally:
        if view is not None:
            view.close()
    kept = [r for r in results if r.path is not None]
    print(f"{len(kept)} episode(s) kept in {args.dataset}")
    return 0
