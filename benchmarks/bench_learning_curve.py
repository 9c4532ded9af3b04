"""What a CPU can train, and what curation is worth: one faulted dataset, two policies, one set of seeds.

    python benchmarks/bench_learning_curve.py [--out DIR] [--episodes 67] [--minutes 15,30,60]
                                              [--compare-minutes 15] [--eval-episodes 50] [--preset cpu]
                                              [--stage record|curated|all|eval|summary] [--threads N]

About 2.5 hours on a 2-core CPU with the defaults (`--stage` runs one part, e.g. the two trainings
side by side with `--threads 1` each: benchmarks/RESULTS.md has the exact sequence measured).

Stages (each skipped when its output exists, so a killed run goes on where it stopped):
1. record DIR/dataset: scripted demonstrations of --rig's task (transfer-cube or insertion; 3 cameras,
   or --record-cameras, at the `cpu` preset's image size; the policy sees --train-cameras, the top one
   as ACT's sim tasks), with
   FAULTS planted (failed grasps, hesitation, a slow operator, a joint-limit bump, a frozen camera);
   `check` and `split` as `demoforge demo` runs them.
2. curve DIR/curated: ACT trained on the episodes that passed, snapshot of best.pt after each of
   --minutes of training (one run, resumed between marks; the wall clock counts training only).
3. all DIR/all: the same training on every episode (a copy of the dataset whose split keeps all of
   them: the comparison only), for --compare-minutes.
4. eval: every snapshot on the same --eval-episodes seeds of the task, 400 ticks each.
Prints one JSON line with the three success rates of eval.json (reached: the top reward at any tick,
the ACT paper's count; lerobot: reached by tick 300; held: at the last tick).
`--seed N` trains with train.seed = N into DIR/curated_seedN and DIR/all_seedN (seed 0: DIR/curated,
DIR/all), so a second training seed per arm reuses the same recorded dataset and evaluation scenes.
`--steps N` trains to N steps instead of for --minutes (the curated-versus-all comparison: arms that
run side by side, one core each, or beside an evaluation, still get equal training).

LeRobot's side (`--stage lerobot-train`, then `--stage lerobot-eval`, both with --steps N): the curated
split exported with `demoforge export --to lerobot` into DIR/lerobot, LeRobot's own trainer on it in the
peer venv (scripts/peer_lerobot_train.py: LeRobot 0.4.4's `train`, our preset's ACT settings) into
DIR/lerobot_run_<N>steps[_seedN], and its checkpoint driving the same rollouts as ours
(benchmarks/peer_policy.py: the same rig, scenes, temporal ensembling and counts) into
DIR/lerobot_run_<N>steps[_seedN]/eval_<N>steps. LeRobot's trainer counts steps, not minutes: its point
at M minutes is the steps its measured seconds per step (peer_run.json's s_per_step) give in M minutes.
`--stage lerobot-train --steps N --lerobot-from M` continues the M-step run's last checkpoint to N steps
(LeRobot's own resume: weights, optimizer, step and RNG state) instead of starting over. The
peer interpreter: $PEER_PYTHON, default <temp folder>/peer-lerobot-venv/bin/python
(../shared/peers/peer_lerobot_setup.sh, plus `pip install termcolor gymnasium` for LeRobot's trainer).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.commands.check_cmd import print_summary
from demoforge.commands.demo_cmd import DemoStages

# Episode numbers are file numbers (episode_0 is the first). Twelve of 67, about a sixth, and the
# kinds that hurt a policy most: failed grasps it would imitate, hesitations it would learn to make.
FAULTS = (
    "miss@4:0",
    "miss@13:0",
    "miss@29:0",
    "miss@47:0",
    "hesitant@8:1.5+3",
    "hesitant@22:2+3",
    "hesitant@40:1+3",
    "pause@17:3+1.5",
    "pause@55:2+2",
    "slow@35:0+8",
    "limit@26:3+0.3",
    "freeze.cam_high@51:2+1",
)


def stages(out: Path, a: argparse.Namespace) -> DemoStages:
    ns = argparse.Namespace(
        rig=a.rig,
        episodes=a.episodes,
        episode_time=8.0,
        image_size=a.image_size,
        cameras=a.record_cameras,
        inject=list(FAULTS),
        no_faults=False,
        preset=a.preset,
        steps=None,
        train_minutes=1.0,
        eval_episodes=a.eval_episodes,
        eval_time=8.0,
        device="cpu",
    )
    return DemoStages(out, ns)


def keep_all(src: Path, dst: Path) -> None:
    """A second dataset folder (hard links) whose split trains on every episode the check saw."""
    from demoforge.quality.split import make_splits
    from demoforge.schemas.splits import load_report

    if (dst / "splits.json").exists():
        return
    dst.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        if p.is_file() and p.name != "splits.json":
            os.link(p, dst / p.name)
    shutil.copytree(src / "quality", dst / "quality")
    overrides = {
        e["file"]: {
            "accept": sorted({f["check"] for f in e["findings"] if f.get("severity") == "error"}),
            "reason": "curation comparison: train on every episode",
        }
        for e in load_report(dst)["episodes"]
        if e["verdict"] != "pass"
    }
    (dst / "overrides.json").write_text(json.dumps(overrides, indent=2) + "\n")
    make_splits(dst, val=0.2, holdout=0, seed=0)


def train_until(
    dataset: Path,
    run: Path,
    preset: str,
    minutes: list[float],
    image_size: str,
    cameras: list[str],
    seed: int = 0,
    steps: int | None = None,
) -> list[Path]:
    import dataclasses

    from demoforge.policy.config import make_config
    from demoforge.policy.train import train

    h, w = (int(x) for x in image_size.split("x"))
    cfg = make_config(preset)
    model = dataclasses.replace(cfg.model, image_height=h, image_width=w, cameras=tuple(cameras))
    cfg = dataclasses.replace(cfg, model=model, train=dataclasses.replace(cfg.train, seed=seed))
    if steps:  # a fixed number of steps: the same training whatever else the machine runs meanwhile
        snap = run / f"best_{steps}steps.pt"
        if not snap.exists():
            train(dataset, run, cfg, resume=(run / "last.pt").exists(), cache=True, live=False, steps=steps)
            shutil.copy(run / "best.pt", snap)
        return [snap]
    snaps = []
    for m in minutes:
        snap = run / f"best_{m:g}min.pt"
        snaps.append(snap)
        if snap.exists():
            continue
        train(dataset, run, cfg, resume=(run / "last.pt").exists(), cache=True, live=False, budget_s=m * 60)
        shutil.copy(run / "best.pt", snap)
    return snaps


def evaluate_all(
    snaps: list[Path], rig: Path, episodes: int, only_read: bool
) -> dict[str, dict[str, object]]:
    from demoforge.policy.evaluate import evaluate, success_counts

    out = {}
    for snap in snaps:
        ev_dir = snap.parent / f"eval_{snap.stem}"
        if (ev_dir / "eval.json").exists():
            s = json.loads((ev_dir / "eval.json").read_text())
        elif only_read:
            continue
        else:
            s = evaluate(snap, str(rig), ev_dir, episodes=episodes, episode_time=8.0, videos=2, device="cpu")
        out[str(snap.relative_to(snap.parent.parent))] = {
            **success_counts(s),  # eval.json of either version (1 had success_strict = held)
            **{k: s.get(k) for k in ("stage_rates", "episodes")},
        }
    return out


def lerobot_run(out: Path, steps: int, seed: int) -> Path:
    """LeRobot's run folder for a step count: one each, so that another --steps never reads this one."""
    return out / f"lerobot_run_{steps}steps{f'_seed{seed}' if seed else ''}"


def lerobot_checkpoint(out: Path, steps: int, seed: int) -> Path:
    """The checkpoint LeRobot's trainer wrote at the end of that run (lerobot_train.py's step folders)."""
    return lerobot_run(out, steps, seed) / "checkpoints" / f"{steps:06d}"


def lerobot_side(a: argparse.Namespace, dataset: Path, rig: Path, run: Path, cams: list[str]) -> dict:
    """LeRobot's trainer on our export of the curated split, or its checkpoint in our rollouts."""
    import subprocess

    from peer_policy import LeRobotPeerPolicy, peer_python

    export = a.out / "lerobot"
    if not (export / "meta" / "info.json").exists():
        subprocess.run(
            [sys.executable, "-m", "demoforge", "export", str(dataset), "--to", "lerobot", str(export)],
            check=True,
        )
    if a.stage == "lerobot-train":
        if not (run / "peer_run.json").exists():
            script = Path(__file__).resolve().parents[1] / "scripts" / "peer_lerobot_train.py"
            cmd = [str(peer_python()), str(script), str(export), str(run), "--steps", str(a.steps)]
            if a.lerobot_from:
                cmd += ["--resume-from", str(lerobot_checkpoint(a.out, a.lerobot_from, a.seed))]
            subprocess.run([*cmd, "--seed", str(a.seed), "--camera", ",".join(cams)], check=True)
        return json.loads((run / "peer_run.json").read_text())
    from demoforge.policy.evaluate import evaluate, success_counts

    ev_dir = run / f"eval_{a.steps}steps"
    if (ev_dir / "eval.json").exists():
        s = json.loads((ev_dir / "eval.json").read_text())
    else:
        names = json.loads((export / "meta" / "info.json").read_text())["features"]["action"]["names"]
        policy = LeRobotPeerPolicy(run / "checkpoints" / "last" / "pretrained_model", names, preset=a.preset)
        try:
            s = evaluate(
                policy.path,
                str(rig),
                ev_dir,
                episodes=a.eval_episodes,
                episode_time=8.0,
                videos=2,
                policy=policy,
            )
        finally:
            policy.close()
    return {
        "run": str(run),
        **success_counts(s),
        "stage_rates": s.get("stage_rates"),
        "episodes": s.get("episodes"),
        "runtime": s.get("runtime"),
        "inference_latency": s.get("inference_latency"),
        "train": json.loads((run / "peer_run.json").read_text()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("bench-data/learning-curve"))
    # 12 planted faults, and ~5 more excluded as near-duplicates (the scripted operator repeats itself
    # when two sampled cube positions are a few millimetres apart): 67 leaves 50 that pass.
    p.add_argument("--episodes", type=int, default=67)
    p.add_argument("--image-size", default="120x160")
    p.add_argument(
        "--rig",
        choices=("sim-transfer-cube", "sim-insertion"),
        default="sim-transfer-cube",
        help="the task recorded, trained and evaluated",
    )
    p.add_argument(
        "--record-cameras",
        type=int,
        default=3,
        help="cameras recorded, in the rig's order (cam_high first); 1 records what the policy sees, faster",
    )
    p.add_argument("--preset", default="cpu")
    p.add_argument(
        "--train-cameras",
        default="cam_high",
        help="cameras the policy sees, comma-separated (default: the top one, as ACT's own sim tasks)",
    )
    p.add_argument("--minutes", default="15,30,60", help="training minutes of each curated snapshot")
    p.add_argument("--compare-minutes", type=float, default=15.0, help="0: no every-episode run")
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument(
        "--stage",
        choices=("record", "curated", "all", "eval", "summary", "lerobot-train", "lerobot-eval"),
        help="run one stage only (e.g. the two trainings side by side, one core each); default: all",
    )
    p.add_argument("--snap", type=Path, help="with --stage eval: the one snapshot to evaluate")
    p.add_argument("--threads", type=int, help="torch threads (default: the usable cores)")
    p.add_argument("--seed", type=int, default=0, help="train.seed of both arms (default 0)")
    p.add_argument(
        "--lerobot-from",
        type=int,
        help="with --stage lerobot-train: continue LeRobot's run of this many steps",
    )
    p.add_argument(
        "--steps",
        type=int,
        help="train each arm for this many steps instead of minutes (snapshot best_<N>steps.pt): two arms "
        "trained side by side, or beside other work, still get the same training",
    )
    a = p.parse_args()
    if a.lerobot_from is not None:
        ckpt = lerobot_checkpoint(a.out, a.lerobot_from, a.seed)
        if a.stage != "lerobot-train" or not 0 < a.lerobot_from < (a.steps or 0) or not ckpt.is_dir():
            p.error(
                f"--lerobot-from {a.lerobot_from}: needs --stage lerobot-train, "
                f"fewer steps than --steps and the checkpoint {ckpt}"
            )
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    t0 = time.monotonic()
    st = stages(a.out, a)
    if a.stage in (None, "record"):
        for name, fn in (
            ("record", st.record),
            ("check", lambda: st.check(print_summary)),
            ("split", st.split),
        ):
            t = time.monotonic()
            print(f"== {name}: {fn()} ({time.monotonic() - t:.0f} s)", flush=True)
    minutes = [float(x) for x in a.minutes.split(",")]
    cams = [c for c in a.train_cameras.split(",") if c]
    tail = f"_seed{a.seed}" if a.seed else ""
    curated = a.out / f"curated{tail}"
    every = a.out / f"all{tail}"
    if a.stage in (None, "curated"):
        train_until(st.dataset, curated, a.preset, minutes, a.image_size, cams, a.seed, a.steps)
    if (a.compare_minutes or a.steps) and a.stage in (None, "all"):
        keep_all(st.dataset, a.out / "dataset_all")
        compare = [a.compare_minutes]
        train_until(a.out / "dataset_all", every, a.preset, compare, a.image_size, cams, a.seed, a.steps)
    peer = lerobot_run(a.out, a.steps, a.seed)
    if a.stage in ("lerobot-train", "lerobot-eval"):
        if not a.steps:
            p.error("--stage lerobot-train/lerobot-eval need --steps (LeRobot's trainer counts steps)")
        print(json.dumps(lerobot_side(a, st.dataset, st.rig_path, peer, cams)))
        return
    if a.steps:
        snaps = [curated / f"best_{a.steps}steps.pt", every / f"best_{a.steps}steps.pt"]
    else:
        snaps = [curated / f"best_{m:g}min.pt" for m in minutes]
        if a.compare_minutes:
            snaps.append(every / f"best_{a.compare_minutes:g}min.pt")
    if a.stage == "eval":
        snaps = [a.snap] if a.snap else snaps
    if a.stage in (None, "eval", "summary"):
        results = evaluate_all(
            [s for s in snaps if s.exists()], st.rig_path, a.eval_episodes, a.stage == "summary"
        )
        splits = json.loads((st.dataset / "splits.json").read_text())
        runs = {
            r.name: json.loads((r / "run.json").read_text())
            for r in (curated, every)
            if (r / "run.json").exists()
        }
        print(
            json.dumps(
                {
                    "episodes": sum(len(splits[k]) for k in ("train", "val", "holdout", "excluded")),
                    "curated_train": len(splits["train"]),
                    "curated_val": len(splits["val"]),
                    "excluded": splits["excluded"],
                    "rig": a.rig,
                    "preset": a.preset,
                    "image_size": a.image_size,
                    "results": results,
                    "train_steps": {k: v["steps"] for k, v in runs.items()},
                    "train_threads": {k: v["machine"]["torch_threads"] for k, v in runs.items()},
                    "wall_s": round(time.monotonic() - t0, 1),
                    "cpus": os.cpu_count(),
                    "machine": platform.machine(),
                }
            )
        )


if __name__ == "__main__":
    main()
