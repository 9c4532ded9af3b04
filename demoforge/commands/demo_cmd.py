"""`demoforge demo`: the whole loop in simulation: record with planted faults, check, split, train, eval.

Wiring only: each stage is the package function the stage's own command calls. A second run with the
same --out skips each stage whose output is complete and consistent, finishes an interrupted
recording or training, and refuses (one message) where it cannot tell; it never overwrites.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

NAME = "demo"
HELP = "the whole loop in simulation: record (faults planted), check, split, train ACT, evaluate"
EXAMPLES = """examples:
  demoforge demo --out demo-data/first                     # 13-22 min on a 2-core CPU
  demoforge demo --out demo-data/first                     # again: resumes, or says what is done
  demoforge demo --out demo-data/gpu --episodes 50 --train-minutes 60 --image-size 240x320 --device cuda
writes OUT/rig.toml, OUT/dataset/ (episodes, faults.json, quality/report.html, splits.json),
OUT/run/ (best.pt, run.json, loss.png) and OUT/eval/ (eval.json, videos/).
"""

# The cap on a training stretched to the preset's min_steps: on a 2-core fp32 CPU the 9-minute budget
# gave 1,236 of the 2,000 (benchmarks/RESULTS.md, "The demo"); a machine too slow even for 20 stops at 9.
MAX_MINUTES = 20.0

# Planted in the default recording: what the validator must catch (episode numbers are file numbers).
# Each kind's check id is in collect/virtual_faults.py; a demo with fewer episodes plants fewer.
DEMO_FAULTS = (
    "pause@1:2.0+1.5",  # the operator stops for 1.5 s           -> pause
    "drop.cam_high@3:3.0+0.3",  # the top camera loses frames     -> frame_drop
    "miss@5:0",  # the grasp misses on purpose                    -> success_label
    "freeze.cam_high@7:2.0+1.0",  # the image stops changing      -> frozen_frame
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=None, help="output folder (default demo-data/<time>)")
    p.add_argument("--rig", default="sim-transfer-cube", help="a simulation rig (default sim-transfer-cube)")
    p.add_argument("--episodes", type=int, default=20, help="episodes recorded (default 20)")
    p.add_argument(
        "--episode-time", type=float, default=8.0, help="seconds per episode (default 8 = 400 ticks)"
    )
    p.add_argument(
        "--image-size", default="120x160", help="camera HxW recorded and trained on (default 120x160)"
    )
    p.add_argument(
        "--cameras",
        type=int,
        default=1,
        help="cameras recorded and trained on, the rig's first N (default 1: the top camera, as ACT's "
        "own simulated tasks; 3 adds the wrist cameras at ~2x the time)",
    )
    p.add_argument(
        "--inject",
        action="append",
        metavar="SPEC",
        help="planted faults instead of the demo's four (as `record --inject`; see the README)",
    )
    p.add_argument("--train-minutes", type=float, default=9.0, help="training budget (default 9)")
    p.add_argument(
        "--train-max-minutes",
        type=float,
        help="when --train-minutes would end training below the preset's train.min_steps and the "
        f"measured step rate gets there sooner than this, train on to min_steps (default {MAX_MINUTES:g}, "
        "or --train-minutes when longer; equal to --train-minutes: never)",
    )
    p.add_argument(
        "--preset", choices=("tiny", "cpu", "paper"), default="cpu", help="ACT settings (default cpu)"
    )
    p.add_argument("--steps", type=int, help="training steps at most (default: the preset's)")
    p.add_argument("--eval-episodes", type=int, default=5, help="evaluation rollouts (default 5)")
    p.add_argument("--eval-time", type=float, help="seconds per rollout (default: --episode-time)")
    p.add_argument("--device", default="cpu", help="torch device for training and evaluation (default cpu)")
    p.add_argument("--no-faults", action="store_true", help="record without planted faults")
    p.add_argument("--unattended", action="store_true", help="no prompts (always: the demo asks nothing)")


def run(args: argparse.Namespace) -> int:
    from demoforge.commands.check_cmd import print_summary
    from demoforge.schemas.errors import ConfigError

    for name in ("episodes", "episode_time", "train_minutes", "eval_episodes", "cameras"):
        if getattr(args, name) <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive", "pass a positive number")
    if args.train_max_minutes is not None and args.train_max_minutes < args.train_minutes:
        raise ConfigError(
            f"--train-max-minutes {args.train_max_minutes:g} is below --train-minutes {args.train_minutes:g}",
            f"pass at least {args.train_minutes:g} (equal: the budget is never stretched)",
        )
    _size(args.image_size)
    from demoforge.collect.rigs import resolve_rig

    if resolve_rig(args.rig).simulation is None:
        raise ConfigError(
            f"--rig {args.rig} is not a simulation rig", "use sim-transfer-cube or sim-insertion"
        )
    out: Path = args.out or Path("demo-data") / time.strftime("%Y%m%d-%H%M%S")
    claim_out(out, args)  # before anything is written: refuses a folder it did not make, or other arguments
    stages = DemoStages(out, args)
    times: dict[str, float] = {}
    for name, stage in (
        ("record", stages.record),
        ("check", lambda: stages.check(print_summary)),
        ("split", stages.split),
        ("train", stages.train),
        ("eval", stages.evaluate),
    ):
        t0 = time.monotonic()
        print(f"== {name}", flush=True)
        done = stage()
        times[name] = round(time.monotonic() - t0, 1)
        print(f"== {name}: {done} ({times[name]:.0f} s)", flush=True)
    summary = stages.summary(times)
    (out / "demo.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(stages.describe(summary), flush=True)
    return 0


ARGS_FILE = "demo-args.json"  # written first into OUT: the folder is the demo's, made with these arguments
_NOT_OUTPUT = {"out", "unattended", "device", "command", "_run"}  # may change between runs of one folder


def _output_args(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments that decide what the demo writes: rerun with one changed, two demos would mix."""
    return {k: v for k, v in sorted(vars(args).items()) if k not in _NOT_OUTPUT}


def claim_out(out: Path, args: argparse.Namespace) -> None:
    """Make `out` the demo's folder, or check that it is one made with the same arguments; writes
    nothing when it refuses."""
    from demoforge.schemas.dataset import read_json, write_json_atomic
    from demoforge.schemas.errors import ConfigError
    from demoforge.schemas.writable import require_writable

    want = _output_args(args)
    marker = out / ARGS_FILE
    if marker.is_file():
        have = read_json(marker, "demo arguments file")
        # an argument the file lacks is newer than the folder (a later demoforge): not a change
        changed = [k for k in sorted(have) if want.get(k) != have[k]]
        if changed:
            was = ", ".join(
                f"--{k.replace('_', '-')} {_arg(have.get(k))} (now {_arg(want.get(k))})" for k in changed
            )
            raise ConfigError(
                f"{out} holds a demo made with other arguments: {was}",
                f"rerun with the arguments in {marker} to resume it, or give a new --out",
            )
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        found = "a file" if not out.is_dir() else ", ".join(sorted(p.name for p in out.iterdir())[:4])
        raise ConfigError(
            f"--out {out} is not a folder the demo made (it holds {found})",
            "give a new or empty folder: the demo writes only into its own folders",
        )
    require_writable(out, "the demo folder", "give a folder you may write: --out DIR")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, want)


def _arg(v: object) -> str:
    return "(not given)" if v is None else " ".join(map(str, v)) if isinstance(v, list) else str(v)


class DemoStages:
    """The demo's five stages over one output folder; each returns a short word on what it did."""

    def __init__(self, out: Path, args: argparse.Namespace) -> None:
        self.out, self.args = out, args
        self.dataset, self.run_dir, self.eval_dir = out / "dataset", out / "run", out / "eval"
        self.rig_path = out / "rig.toml"

    def record(self) -> str:
        from demoforge.collect.operator_display import PlainDisplay
        from demoforge.collect.recorder import Recorder, RecordOptions
        from demoforge.collect.rigs import resolve_rig, write_rig_copy
        from demoforge.collect.virtual_faults import parse_fault
        from demoforge.schemas.dataset import episode_files
        from demoforge.schemas.errors import ConfigError

        a = self.args
        if self.rig_path.exists():
            rig = resolve_rig(str(self.rig_path))
        else:
            h, w = _size(a.image_size)
            self.out.mkdir(parents=True, exist_ok=True)
            rig = resolve_rig(write_rig_copy(a.rig, self.rig_path, camera_size=(h, w), cameras=a.cameras))
        if rig.simulation is None:
            raise ConfigError(
                f"--rig {a.rig} is not a simulation rig", "use sim-transfer-cube or sim-insertion"
            )
        have = len(episode_files(self.dataset)) if self.dataset.is_dir() else 0
        if have >= a.episodes:
            return f"{have} episodes already recorded, skipped"
        specs = () if a.no_faults else a.inject or DEMO_FAULTS
        faults = tuple(parse_fault(s) for s in specs)
        opts = RecordOptions(
            dataset=self.dataset,
            episodes=a.episodes - have,  # an interrupted recording goes on from the next file number
            task="transfer the cube" if "cube" in a.rig else "insert the peg",
            operator="scripted",
            episode_time=a.episode_time,
            reset_time=0.1,
            unattended=True,
            label=-1,  # the simulation labels success from the task reward
            faults=tuple(f for f in faults if f.episode < a.episodes),
        )
        with PlainDisplay() as display:
            Recorder(rig, opts, display=display).run()
        return f"{len(episode_files(self.dataset))} episodes recorded"

    def check(self, show: Any) -> str:
        from rich.console import Console

        from demoforge.quality import check_dataset, write_report_html, write_report_json
        from demoforge.quality.episode_table import write_episodes_csv
        from demoforge.quality.next_steps import summarize
        from demoforge.schemas.dataset import episode_files
        from demoforge.schemas.errors import UserError
        from demoforge.schemas.splits import load_report

        names = sorted(p.name for p in episode_files(self.dataset))
        report_json = self.dataset / "quality" / "report.json"
        if report_json.exists():
            try:
                if sorted(e["file"] for e in load_report(self.dataset)["episodes"]) == names:
                    return "report is current, skipped"
            except UserError:  # a damaged or old report: made again below
                pass
        total = len(names)
        counter = iter(range(1, total + 1))
        report = check_dataset(
            self.dataset,
            progress=lambda r: print(f"checked {next(counter)}/{total} {r.file}: {r.verdict}", flush=True),
        )
        write_report_json(self.dataset, report)
        html = write_report_html(self.dataset, report)
        write_episodes_csv(self.dataset, report, summarize(report).overrides)
        show(Console(), report, 20)
        return f"report {html}"

    def split(self) -> str:
        from demoforge.quality.split import make_splits
        from demoforge.schemas.errors import ConfigError, UserError
        from demoforge.schemas.splits import load_report, verify_split

        if (self.dataset / "splits.json").exists():
            try:
                verify_split(self.dataset)
            except UserError as e:
                raise ConfigError(
                    f"{self.dataset / 'splits.json'} no longer matches the data ({e})",
                    "run the demo with another --out (the demo never overwrites)",
                ) from None
            return "split is current, skipped"
        passing = sum(e["verdict"] == "pass" for e in load_report(self.dataset)["episodes"])
        # a fifth for validation (checkpoint choice), at least one episode of it
        s = make_splits(self.dataset, val=max(0.2, 1 / max(passing, 2)), holdout=0, seed=0)
        return f"train {len(s.train)}, val {len(s.val)}, excluded {len(s.excluded)}"

    def train(self) -> str:
        import dataclasses

        from demoforge.policy.config import make_config
        from demoforge.policy.train import train

        a = self.args
        run_json, last = self.run_dir / "run.json", self.run_dir / "last.pt"
        if run_json.exists():
            return f"{self.run_dir / 'best.pt'} exists, skipped"
        h, w = _size(a.image_size)
        cfg = make_config(a.preset)
        cfg = dataclasses.replace(
            cfg,
            model=dataclasses.replace(cfg.model, image_height=h, image_width=w),
            # one decoding worker at most (when the frames do not fit in memory): the CPU trains
            train=dataclasses.replace(cfg.train, workers=min(cfg.train.workers, 1)),
        )
        from demoforge.policy.data import CacheTooLarge

        def go(cache: bool) -> dict[str, Any]:
            return train(
                self.dataset,
                self.run_dir,
                cfg,
                resume=last.exists(),
                cache=cache,
                live=False,
                steps=a.steps,
                budget_s=a.train_minutes * 60,
                max_budget_s=max_minutes(a) * 60,
            )

        try:  # frames decoded once into memory: every training step then costs only the network
            s = go(cache=True)
        except CacheTooLarge as e:
            print(f"{e.message}: decoding frames while training instead (slower)", flush=True)
            s = go(cache=False)
        best = s["best"] or {}
        steps = f"{s['steps']} steps"
        if (s.get("budget") or {}).get("stretched"):
            steps += f" (beyond the {a.train_minutes:g}-minute budget, to the preset's min_steps)"
        return f"{steps}, best val loss {best.get('val_loss', float('nan')):.4f}"

    def evaluate(self) -> str:
        from demoforge.policy.evaluate import evaluate, success_counts

        if (self.eval_dir / "eval.json").exists():
            return "eval.json exists, skipped"
        s = evaluate(
            self.run_dir / "best.pt",
            str(self.rig_path),
            self.eval_dir,
            episodes=self.args.eval_episodes,
            episode_time=self.args.eval_time or self.args.episode_time,
            videos=1,
            device=self.args.device,
        )
        run = json.loads((self.run_dir / "run.json").read_text())
        return _success_words(run, success_counts(s))

    def summary(self, times: dict[str, float]) -> dict[str, Any]:
        from demoforge.policy.evaluate import success_counts
        from demoforge.schemas.splits import load_report

        report = load_report(self.dataset)
        splits = json.loads((self.dataset / "splits.json").read_text())
        ev = json.loads((self.eval_dir / "eval.json").read_text())
        run = json.loads((self.run_dir / "run.json").read_text())
        return {
            "out": str(self.out),
            "episodes": len(report["episodes"]),
            "excluded": splits["excluded"],
            "report": str(self.dataset / "quality" / "report.html"),
            "faults": str(self.dataset / "faults.json"),
            "checkpoint": str(self.run_dir / "best.pt"),
            "train_steps": run["steps"],
            "eval_episodes": ev["episodes"],
            "min_steps": run.get("min_steps"),
            "too_few_steps": bool(run.get("too_few_steps")),
            **success_counts(ev),
            "video": (ev.get("videos") or [None])[0],
            "stage_seconds": times,
        }

    @staticmethod
    def describe(s: dict[str, Any]) -> str:
        lines = [
            f"recorded {s['episodes']} episodes; {len(s['excluded'])} excluded by the check:",
            *(f"  {name}: {', '.join(why)}" for name, why in s["excluded"].items()),
            f"planted faults (ground truth): {s['faults']}",
            f"quality report:  {s['report']}",
            f"checkpoint:      {s['checkpoint']} ({s['train_steps']} steps)",
            f"success:         {_success_words(s, s)}, over {s['eval_episodes']} rollouts",
            f"rollout video:   {s['video']}",
            "stage times:     " + ", ".join(f"{k} {v:.0f} s" for k, v in s["stage_seconds"].items()),
        ]
        return "\n".join(lines)


def max_minutes(a: argparse.Namespace) -> float:
    """The training cap in force: --train-max-minutes, else 20 minutes or the budget when longer."""
    return a.train_max_minutes if a.train_max_minutes is not None else max(MAX_MINUTES, a.train_minutes)


def _success_words(run: dict[str, Any], ev: dict[str, Any]) -> str:
    """The three success counts, or why a run trained too briefly has none worth reading."""
    steps, need = run.get("steps") or run.get("train_steps"), run.get("min_steps")
    if run.get("too_few_steps"):
        return f"too few steps for a result ({steps:,} trained, the preset needs {need:,})"
    return (
        f"{_pct(ev['success_reached'])} reached the top reward (ACT paper's count), "
        f"{_pct(ev['success_lerobot'])} within 300 ticks (LeRobot's), "
        f"{_pct(ev['success_held'])} held to the end"
    )


def _pct(v: float | None) -> str:
    return "unknown" if v is None else f"{100 * v:.0f} %"


def _size(text: str) -> tuple[int, int]:
    from demoforge.schemas.errors import ConfigError

    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--image-size {text!r}: not HxW", "e.g. --image-size 120x160") from None
    if h < 16 or w < 16:
        raise ConfigError(f"--image-size {text}: too small", "use at least 16x16")
    return h, w
