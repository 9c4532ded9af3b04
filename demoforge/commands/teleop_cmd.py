"""`demoforge teleop`: the recording loop without recording: followers follow the leaders."""

from __future__ import annotations

import argparse
import sys
import time

from demoforge.commands.record_cmd import add_common, add_view, open_view

NAME = "teleop"
HELP = "teleoperate: followers follow the leaders at the rig's rate, nothing is recorded"
EXAMPLES = """examples:
  demoforge teleop --rig aloha                  # until q; h (or Ctrl-C) stops: the followers hold
  demoforge teleop --rig virtual --seconds 5    # fixed duration (scripts, unattended)
  demoforge teleop --rig sim-insertion --seconds 2   # the simulated pair holds the start pose
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument("--seconds", type=float, help="stop after this long (default: until q / Ctrl-C)")
    add_view(p)


def run(args: argparse.Namespace) -> int:
    from demoforge.collect.control_loop import ControlLoop
    from demoforge.collect.hardware import open_hardware
    from demoforge.collect.operator_keys import TerminalKeys
    from demoforge.collect.operator_stop import ask_rest, keys_only, run_attended
    from demoforge.collect.rigs import resolve_rig
    from demoforge.schemas.errors import UserError

    def say(line: str) -> None:
        print(line, flush=True)

    rig = resolve_rig(args.rig)
    attended = sys.stdin.isatty() and args.seconds is None
    view = open_view(args, rig)
    hw = open_hardware(rig, line=args.line)
    hw.open()
    rest: bool | None = None  # unattended: the rig's rest_on_exit
    try:
        keys = TerminalKeys() if attended else None
        loop = ControlLoop(hw, halt_flag=keys.stop if keys is not None else None)
        loop.start()
        loop.move_to(rig.start_pose)  # teleop engages once leaders and followers agree there
        for note in getattr(hw, "notes", []):  # what the checks at open found (real buses)
            print(note, flush=True)
        try:
            if keys is not None:
                rest = False  # attended: the followers rest only when the operator confirms it
                with keys:
                    say("teleop running: h = stop (hold), q = quit")
                    try:
                        rest = run_attended(loop, keys, say, view=view)
                    except UserError as e:  # a fault: the followers hold; the operator decides
                        say(f"stopped: {e.message}; the followers hold where they are")
                        rest = ask_rest(keys_only(keys), say)
                        raise
            else:
                end = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))
                t0, ticks, next_print = time.monotonic(), 0, 0
                step = int(rig.fps) if view is None else view.every
                while time.monotonic() < end and loop.running:
                    loop.wait_ticks(step)
                    ticks += step
                    if view is not None:  # sampled from this thread, never the control thread
                        view.sample_loop(loop, ticks, time.monotonic() - t0)
                    if ticks < next_print:
                        continue
                    next_print = ticks + int(rig.fps)
                    rate, p99 = loop.recent.recent(int(rig.fps))
                    say(f"{rate:6.2f} Hz  p99 jitter {p99:.2f} ms  overruns {loop.clock.overruns}")
        finally:
            loop.stop()
        if loop.fault is not None:
            raise loop.fault
    finally:
        hw.close(rest=rest)
        if view is not None:
            view.close()
    return 0
