"""`demoforge calibrate`: record homing offsets, directions and gripper travel of an arm pair."""

from __future__ import annotations

import argparse
import contextlib
import sys

from demoforge.schemas.errors import ConfigError

NAME = "calibrate"
HELP = "Calibrate the arms of a rig: motor settings, zero pose, direction pose, range of motion."
EXAMPLES = """examples:
  demoforge calibrate --rig aloha                 # every arm, with prompts (a person must be there)
  demoforge calibrate --rig my_rig.toml --arm left
  demoforge calibrate --rig koch --recentre       # also re-centre motors whose limits cross tick 0/4095
  demoforge calibrate --rig virtual --unattended  # emulated arms only: the emulator takes the poses
  demoforge calibrate --rig aloha --show          # where each arm's calibration file is; changes nothing
a shipped rig's calibrations live in your config folder (per user, kept across upgrades), keyed by the
rig's name and the serial numbers of each arm's USB adapters; a rig TOML of your own keeps them beside it.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rig", required=True, help="a shipped rig name (aloha, koch, virtual) or a rig TOML file"
    )
    parser.add_argument("--arm", help="calibrate only this arm (default: all)")
    parser.add_argument(
        "--range-seconds", type=float, default=8.0, help="how long to sample the range of motion (default: 8)"
    )
    parser.add_argument(
        "--recentre",
        action="store_true",
        help="write the Homing Offset (within ±1024) that brings a joint whose limits cross the "
        "encoder's 0/4095 wrap back inside one turn (without it such a motor is refused, naming the offset)",
    )
    parser.add_argument(
        "--show", action="store_true", help="print where each arm's calibration file is, and stop"
    )
    parser.add_argument(
        "--unattended",
        action="store_true",
        help="no prompts (implied when standard input is not a terminal); refused on real arms",
    )


def run(args: argparse.Namespace) -> int:
    from demoforge.collect import calibration
    from demoforge.collect.calibration_flow import calibrate_arm
    from demoforge.collect.rigs import resolve_rig
    from demoforge.collect.virtual_rig import start_virtual_chains

    rig = resolve_rig(args.rig)
    if rig.simulation is not None:
        raise ConfigError(f"rig {rig.name!r} is simulated: nothing to calibrate", "record with it directly")
    arms = [a for a in rig.arms if args.arm in (None, a.name)]
    if not arms:
        raise ConfigError(
            f"rig {rig.name!r} has no arm {args.arm!r}", f"use one of: {', '.join(a.name for a in rig.arms)}"
        )
    if args.show:
        from demoforge.collect.calibration_location import calibration_file

        for arm in arms:
            path = calibration_file(rig, arm)
            state = (
                "calibrated"
                if path.exists()
                else "not calibrated (emulated: identity)"
                if calibration.is_virtual(arm)
                else "not calibrated"
            )
            print(f"{arm.name}: {path} ({state})")
        return 0
    unattended = args.unattended or not sys.stdin.isatty()

    def ask(prompt: str) -> None:
        input(f"{prompt} ")

    with contextlib.ExitStack() as stack:
        chains = None
        if any(calibration.is_virtual(a) for a in arms):
            chains = stack.enter_context(start_virtual_chains(rig, mode="process", operator=False))
        for arm in arms:
            print(f"calibrating arm {arm.name!r}", flush=True)
            calibrate_arm(
                rig,
                arm,
                ask=None if unattended else ask,
                poser=chains.place_pose if chains is not None and calibration.is_virtual(arm) else None,
                range_s=args.range_seconds,
                say=lambda line: print(line, flush=True),
                recentre=args.recentre,
            )
    return 0
