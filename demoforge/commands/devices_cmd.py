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
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baud", type=int, action="append", help="baud rate(s) to scan (default: 1M, 57600, 4M)")
    p.add_argument("--no-cameras", action="store_true", help="skip the camera listing")


def run(args: argparse.Namespace) -> int:
    from demoforge.collect.cameras import list_cameras
    from demoforge.collect.dynamixel import scan_ports

    console = Console()
    ports = Table(title="serial ports")
    for col in ("port", "description", "baud", "motors (id: model)"):
        ports.add_column(col, overflow="fold")
    scans = scan_ports(tuple(args.baud)) if args.baud else scan_ports()
    for s in scans:
        motors = ", ".join(f"{i}: {m}" for i, m in sorted(s.motors.items())) or (
            f"[red]{escape(s.error)}[/]" if s.error else "none"
        )
        ports.add_row(s.port, escape(s.description or ""), str(s.baudrate or "-"), motors)
    if not scans:
        ports.add_row("none found", "", "", "")
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
    return 0
