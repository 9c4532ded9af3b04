"""`demoforge deploy`: run a trained policy on a rig through the control loop, optionally recording."""

from __future__ import annotations

import argparse
import sys
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
On real arms deploy needs a terminal: the policy starts on SPACE, and h (or Ctrl-C) holds the arms
where they are until c (continue) or r then y (rest and quit).
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
    p.add_argument(
        "--accept-calibration",
        action="store_true",
        help="run although the rig's calibration differs from the training episodes' (recalibrated on "
        "purpose, poses checked to match)",
    )
    p.add_argument(
        "--unattended",
        action="store_true",
        help="no prompts (implied without a terminal); refused on real arms (nobody at the stop key)",
    )


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
    from demoforge.collect.hardware import is_emulated
    from demoforge.collect.rigs import resolve_rig
    from demoforge.policy.api import load_policy, threads_beside_control_loop
    from demoforge.policy.errors import PolicyError
    from demoforge.policy.runner import PolicyGoals, latency_summary

    rig = resolve_rig(args.rig)
    attended = not args.unattended and sys.stdin.isatty()
    if rig.simulation is None and not is_emulated(rig) and not attended:
        raise PolicyError(
            f"deploy on rig {rig.name} drives real arms, and nobody is at the stop key",
            "run it in a terminal without --unattended: SPACE starts the policy, h holds the arms",
        )
    policy = load_policy(args.checkpoint, args.device, args.precision, threads=threads_beside_control_loop())
    for note in policy.check_rig(rig, accept_calibration=args.accept_calibration):
        print(f"note: {note}", flush=True)
    print(f"policy {args.checkpoint} on {policy.runtime}")
    goals = PolicyGoals(policy, policy.ensemble_config(ensemble_overrides(args)), synchronous=rig.sim)
    view = open_view(args, rig)
    try:
        if args.record is not None:
            _record(args, rig, goals, attended, view)
        else:
            _run(args, rig, goals, attended, view)
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


def _record(args: argparse.Namespace, rig: Any, goals: Any, attended: bool, view: Any) -> None:
    """Rollouts as episodes; attended, each starts on SPACE and is labelled by the operator."""
    from demoforge.collect.operator_display import LiveDisplay, PlainDisplay
    from demoforge.collect.operator_keys import TerminalKeys
    from demoforge.collect.recorder import Recorder, RecordOptions

    opts = RecordOptions(
        dataset=args.record,
        episodes=args.episodes,
        task=f"policy {args.checkpoint}",
        operator="policy",
        episode_time=args.episode_time,
        unattended=not attended,
        label=-1,
        line=args.line,
        view=view,
    )
    if attended:
        with TerminalKeys() as keys, LiveDisplay() as display:
            results = Recorder(rig, opts, operator=keys, display=display, goal_source=goals).run()
    else:
        with PlainDisplay() as display:
            results = Recorder(rig, opts, display=display, goal_source=goals).run()
    print(f"{sum(r.path is not None for r in results)} rollout(s) recorded in {args.record}")


def _run(args: argparse.Namespace, rig: Any, goals: Any, attended: bool, view: Any) -> None:
    """The policy for `--seconds`; attended, it starts on SPACE and the stop key holds the arms."""
    from demoforge.collect.control_loop import ControlLoop, HoldGoals
    from demoforge.collect.hardware import open_hardware
    from demoforge.collect.operator_keys import TerminalKeys
    from demoforge.collect.operator_stop import (
        RestAndQuit,
        ask_rest,
        keys_only,
        run_attended,
        ticks_and_keys,
        wait_for_start,
    )
    from demoforge.schemas.errors import UserError

    def say(line: str) -> None:
        print(line, flush=True)

    hw = open_hardware(rig, line=args.line)  # buses and cameras, or a simulation
    hw.open()
    rest: bool | None = None  # unattended: the rig's rest_on_exit
    try:
        keys = TerminalKeys() if attended else None
        loop = ControlLoop(hw, halt_flag=keys.stop if keys is not None else None)
        loop.start()
        try:
            if keys is None:
                loop.set_source(goals)  # holds the followers while they go to the start pose
                end = time.monotonic() + loop.move_to(rig.start_pose) + 10.0
                while (loop.moving or not loop.engaged) and loop.running and time.monotonic() < end:
                    loop.wait_ticks(5)
                end, t0 = time.monotonic() + args.seconds, time.monotonic()
                step = int(rig.fps) if view is None else view.every
                while time.monotonic() < end and loop.running:
                    loop.wait_ticks(step)
                    if view is not None:  # sampled from this thread, never the control thread
                        view.sample_loop(loop, loop.ticks, time.monotonic() - t0)
            else:
                rest = False  # attended: the followers rest only when the operator confirms it
                with keys:
                    try:
                        loop.set_source(HoldGoals())  # to the start pose, then hold until SPACE
                        loop.move_to(rig.start_pose)
                        prompt = (
                            "SPACE starts the policy (it moves the arms on its own); h holds them, q quits"
                        )
                        if wait_for_start(loop, ticks_and_keys(loop, keys), say, prompt):
                            loop.set_source(goals)
                            say("policy running: h = stop (hold), q = quit")
                            rest = run_attended(loop, keys, say, args.seconds, view=view)
                        else:
                            rest = ask_rest(ticks_and_keys(loop, keys), say)
                    except RestAndQuit:
                        rest = True
                    except UserError as e:  # a fault: the followers hold; the operator decides
                        say(f"stopped: {e.message}; the followers hold where they are")
                        rest = ask_rest(keys_only(keys), say)
                        raise
        finally:
            loop.stop()
    finally:
        hw.close(rest=rest)
    if loop.fault is not None:
        raise loop.fault
