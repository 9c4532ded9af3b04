"""`demoforge devices`: serial ports with Dynamixel chains on them, and cameras with their modes."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

NAME = "devices"
HELP = "list serial ports with the Dynamixel motors found on them, and cameras (RealSense, OpenCV)"
EXAMPLES = """examples:
  demoforge devices                 # scan at 1 Mbit/s, 57600 and 4 Mbit/s
  demoforge devices --baud 1000000  # one rate only (faster)
  demoforge devices --rig aloha     # every motor of the rig: mode, drive mode, limits vs the rig
  demoforge devices --rig aloha --reboot  # also reboot motors reporting a hardware error
exit codes: 0 every port opened, 1 a port could not be opened or scanned (its row says why), 2 bad input.
"""
PORT_FAILED_EXIT = 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baud", type=int, action="append", help="baud rate(s) to scan (default: 1M, 57600, 4M)")
    p.add_argument("--no-cameras", action="store_true", help="skip the camera listing")
    p.add_argument("--rig", help="report the motors of this rig (name or TOML) next to what it expects")
    p.add_argument(
        "--reboot",
        action="store_true",
        help="with --rig: reboot motors that report a hardware error (overload, overheating...); "
        "remove the cause first",
    )


def _latency(ms: int | None) -> str:
    from demoforge.collect.dynamixel.usb_adapter import MAX_LATENCY_TIMER_MS

    if ms is None:
        return "-"
    return f"{ms} ms" if ms <= MAX_LATENCY_TIMER_MS else f"[red]{ms} ms (too high)[/]"


def _rig_report(console: Console, rig_arg: str, reboot: bool) -> bool:
    """Print each arm's motors against the rig; False when an arm's port could not be opened."""
    import contextlib

    from demoforge.collect.dynamixel.usb_adapter import UDEV_RULE
    from demoforge.collect.hardware import is_emulated
    from demoforge.collect.motor_report import inspect_rig
    from demoforge.collect.rigs import resolve_rig

    rig = resolve_rig(rig_arg)
    with contextlib.ExitStack() as stack:
        if is_emulated(rig):
            from demoforge.collect.virtual_rig import start_virtual_chains

            stack.enter_context(start_virtual_chains(rig, mode="thread", operator=False))
        reports = inspect_rig(rig, reboot=reboot)
    slow = False
    for r in reports:
        title = f"{r.arm} {r.side}: {r.port}, adapter latency timer {_latency(r.latency_timer_ms)}"
        slow |= not r.latency_ok
        table = Table(title=title)
        for col in (
            "id",
            "joint",
            "model",
            "mode (rig)",
            "drive mode (calibration)",
            "secondary id",
            "limits ticks (rig)",
            "hardware error",
        ):
            table.add_column(col, overflow="fold")
        if r.error:
            table.add_row("-", f"[red]{escape(r.error)}[/]", "", "", "", "", "", "")
        for m in r.motors:
            bad = m.mismatches

            def mark(text: str, wrong: bool) -> str:
                return f"[red]{escape(text)}[/]" if wrong else escape(text)

            err = ", ".join(m.errors) + (" (rebooted)" if m.rebooted else "") if m.errors else "-"
            table.add_row(
                str(m.id),
                m.joint,
                m.model,
                mark(f"{m.mode} ({m.mode_expected})", "mode" in bad),
                mark(f"{m.drive_mode} ({m.drive_mode_expected or 'not calibrated'})", "drive mode" in bad),
                m.secondary_id,
                mark(
                    f"{m.limits[0]}..{m.limits[1]} ({m.limits_expected[0]}..{m.limits_expected[1]})"
                    if m.limits_expected
                    else f"{m.limits[0]}..{m.limits[1]}",
                    any(b.startswith("limits") for b in bad),
                ),
                f"[red]{escape(err)}[/]" if m.errors and not m.rebooted else escape(err),
            )
        console.print(table)
    if slow:
        console.print(
            f"latency timer too high: add the udev rule {escape(UDEV_RULE)} "
            "(see docs/first-day-on-a-real-rig.md)"
        )
    if any(m.errors and not m.rebooted for r in reports for m in r.motors):
        console.print("motors report hardware errors: remove the cause, then rerun with --reboot")
    return not any(r.error for r in reports)


def run(args: argparse.Namespace) -> int:
    from demoforge.collect.cameras import list_cameras
    from demoforge.collect.dynamixel import scan_ports
    from demoforge.schemas.errors import ConfigError

    console = Console()
    if args.reboot and not args.rig:
        raise ConfigError("--reboot needs --rig", "name the rig whose motors to reboot: --rig RIG --reboot")
    if args.rig:
        return 0 if _rig_report(console, args.rig, args.reboot) else PORT_FAILED_EXIT
    ports = Table(title="serial ports")
    for col in ("port", "description", "latency timer", "baud", "motors (id: model)"):
        ports.add_column(col, overflow="fold")
    scans = scan_ports(tuple(args.baud)) if args.baud else scan_ports()
    for s in scans:
        motors = ", ".join(f"{i}: {m}" for i, m in sorted(s.motors.items())) or (
            f"[red]{escape(s.error)}[/]" if s.error else "none"
        )
        ports.add_row(
            s.port, escape(s.description or ""), _latency(s.latency_timer_ms), str(s.baudrate or "-"), motors
        )
    if not scans:
        ports.add_row("none found", "", "", "", "")
    console.print(ports)
    if not args.no_cameras:
        cams = Table(title="cameras")
        for col in ("type", "id", "modes / current"):
            cams.add_column(col, overflow="fold")
        for c in list_cameras():
            if c.get("type") == "error":
                cams.add_row(
                    "realsense",
                    "-",
                    f"[yellow]{escape(str(c.get('message')))}[/] ({escape(str(c.get('hint', '')))})",
                )
            elif c.get("type") == "realsense":
                modes = ", ".join(
                    f"{m.get('width')}x{m.get('height')}@{m.get('fps')}" for m in c.get("color_modes", [])[:6]
                )
                cams.add_row("realsense", str(c.get("serial")), escape(f"{c.get('name', '')}: {modes}"))
            else:
                cams.add_row(
                    "opencv",
                    str(c.get("source", c.get("index"))),
                    f"{c.get('width')}x{c.get('height')}@{c.get('fps')} {c.get('fourcc', '')}",
                )
        if not cams.rows:
            cams.add_row("none found", "", "")
        console.print(cams)
    failed = [s.port for s in scans if s.error]
    if failed:
        console.print(
            f"[red]could not scan {escape(', '.join(failed))}[/] (see the table): exit {PORT_FAILED_EXIT}"
        )
        return PORT_FAILED_EXIT
    return 0
