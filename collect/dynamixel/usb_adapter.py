"""The USB serial adapter's latency timer: read from sysfs at open, refused when too high.

An FTDI adapter (U2D2, most USB2Dynamixel clones) holds short incoming packets for its latency
timer before passing them to the host: 16 ms by default, longer than a 20 ms tick can afford for
two reads. ALOHA and ROBOTIS set it to 1 ms with a udev rule; `UDEV_RULE` is that rule. Adapters
without the file (CDC-ACM boards such as the OpenRB-150) have no such timer.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_LATENCY_TIMER_MS = 2  # above this, replies arrive too late for the bus timeout and the tick
UDEV_RULE = 'ACTION=="add", SUBSYSTEM=="usb-serial", DRIVER=="ftdi_sio", ATTR{latency_timer}="1"'
UDEV_FILE = "/etc/udev/rules.d/99-dynamixel-latency.rules"


def latency_timer_file(device_path: str, sysfs_root: str | Path = "/sys") -> Path:
    """Where Linux exposes the latency timer (ms) of the adapter behind `device_path` (symlinks followed)."""
    tty_name = Path(os.path.realpath(device_path)).name
    return Path(sysfs_root) / "bus" / "usb-serial" / "devices" / tty_name / "latency_timer"


def read_latency_timer(device_path: str, sysfs_root: str | Path = "/sys") -> int | None:
    """The adapter's latency timer in ms, or None when it has none (not a usb-serial adapter)."""
    try:
        return int(latency_timer_file(device_path, sysfs_root).read_text().strip())
    except (OSError, ValueError):
        return None


def fix_hint(device_path: str, sysfs_root: str | Path = "/sys") -> str:
    """How to bring the latency timer down to 1 ms, for good and for now."""
    f = latency_timer_file(device_path, sysfs_root)
    return (
        f"add the udev rule `{UDEV_RULE}` to {UDEV_FILE}, run `sudo udevadm control --reload-rules` "
        f"and replug the adapter (for this session only: `echo 1 | sudo tee {f}`)"
    )
