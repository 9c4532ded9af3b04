"""`demoforge deploy`: run a trained policy on a rig through the control loop, optionally recording."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from demoforge.commands.record_cmd import add_common, add_view, open_view

NAME = "deploy"
HELP = "run a trained ACT policy on a rig (virtual, simulation or real); --record keeps the rollouts"
EXAMPLES = """examples:
  demoforge deploy --rig virtual --checkpoint runs/pick/best.pt --seconds 10
  demoforge deploy --rig aloha --checkpoint runs/pick/best.pt --record data/rollouts --episodes 5
  demoforge deploy --rig aloha --checkpoint runs/pick/best.pt --ensemble chunk --execute-every 50
  demoforge deploy --rig aloha --checkpoint cube.onnx --seconds 30      # onnxruntime (export-policy)
the followers first ramp to the rig's start pose, then the policy drives them through the same safety
clamps as teleop. Inference runs off the control thread; the loop never waits for it.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument(
        "--checkpoint",
        required=True,
        type=Path,
        help="RUN/best.pt from `demoforge train`, or an .onnx file from `demoforge export-policy`",
    )
    p.add_argument("--record", type=Path, metavar="DIR", help="record the rollouts as episodes into DIR")
    add_view(p)
    p.add_argument("--episodes", type=int, default=1, help="with --record: rollouts to record (default 1)")
    p.add_argument(
        "--episode-time", type=float, help="with --record: seconds per rollout (default: the rig's)"
    )
    p.add_argument("--seconds", type=float, default=10.0, help="without --record: run this long (default 10)")
    add_ensemble(p)
    add_device(p)
    p.add_argument("--unattended", action="store_true", help="no prompts (implied without a terminal)")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        default="auto",
        help="inference device: cpu, cuda, cuda:N or auto = CUDA where present (for .onnx files: TensorRT, "
        "then CUDA), else cpu (default auto)",
    )
    p.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32", "fp16"),
        default="auto",
        help="number format: auto = bfloat16 where the hardware computes it (GPUs, AVX512-BF16/AMX CPUs), "
        "for .onnx files the exported one; fp16 for .onnx files only",
    )


def add_ensemble(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ensemble", choices=("temporal", "chunk"), help="override the checkpoint's ensemble.mode"
    )
    p.add_argument("--m", type=float, help="temporal ensembling weight decay m")
    p.add_argument("--highest", choices=("oldest", "newest"), help="which prediction weighs most")
    p.add_argument("--execute-every", type=int, help="chunk mode: actions executed per chunk")


def ensemble_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The [ensemble] settings given on the command line (over the checkpoint's)."""
    pairs = (
        ("mode", args.ensemble),
        ("m", args.m),
        ("highest", args.highest),
        ("execute_every", args.execute_every),
    )
    return {k: v for k, v in pairs if v is not None}


def run(args: argparse.Namespace) -> int:
    from demoforge.collect.control_loop import ControlLoop
    from demoforge.collect.hardware import open_hardware
    from demoforge.collect.operator_display import PlainDisplay
    from demoforge.collect.recorder import Recorder, RecordOptions
    from demoforge.collect.rigs import resolve_rig
    from demoforge.policy.api import load_policy, threads_beside_control_loop
    from demoforge.policy.runner import PolicyGoals, latency_summary

    rig = resolve_rig(args.rig)
    policy = load_policy(args.checkpoint, args.device, args.precision, threads=threads_beside_control_loop())
    policy.check_rig(rig)
    print(f"policy {args.checkpoint} on {policy.runtime}")
    goals = PolicyGoals(policy, policy.ensemble_config(ensemble_overrides(args)), synchronous=rig.sim)
    view = open_view(args, rig)
    try:
        if args.record is not None:
            opts = RecordOptions(
                dataset=args.record,
                episodes=args.episodes,
                task=f"policy {args.checkpoint}",
                operator="policy",
                episode_time=args.episode_time,
                unattended=True,
                label=-1,
                line=args.line,
                view=view,
            )
            with PlainDisplay() as display:
                results = Recorder(rig, opts, display=display, goal_source=goals).run()
            print(f"{sum(r.path is not None for r in results)} rollout(s) recorded in {args.record}")
        else:
            hw = open_hardware(rig, line=args.line)  # buses and cameras, or a simulation
            hw.open()
            try:
                loop = ControlLoop(hw)
                loop.start()
                try:
                    loop.set_source(goals)  # holds the followers while they go to the start pose
                    end = time.monotonic() + loop.move_to(rig.start_pose) + 10.0
                    while (loop.moving or not loop.engaged) and loop.running and time.monotonic() < end:
                        loop.wait_ticks(5)
                    end, t0, ticks = time.monotonic() + args.seconds, time.monotonic(), 0
                    step = int(rig.fps) if view is None else view.every
                    while time.monotonic() < end and loop.running:
                        loop.wait_ticks(step)
                        ticks += step
                        if view is not None:  # sampled from this thread, never the control thread
                            view.sample_loop(loop, ticks, time.monotonic() - t0)
                finally:
                    loop.stop()
            finally:
                hw.close()
            if loop.fault is not None:
                raise loop.fault
        if goals.error is not None:
            raise goals.error
    finally:
        goals.close()
        if view is not None:
            view.close()
    lat = latency_summary(goals.latencies_all)
    if lat["count"]:
        print(f"{lat['count']} inferences: median {lat['median_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms")
    return 0
