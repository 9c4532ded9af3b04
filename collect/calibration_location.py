"""Where an arm's calibration lives: per user, never inside the installed package.

A shipped rig (`--rig aloha`) is read from the installed package, which is replaced on upgrade and shared
by every user of the machine: its calibrations go under the user's config folder (platformdirs), keyed by
the rig's name and the serial numbers of the arm's two USB adapters, so a calibration follows the adapters
(not the /dev name they got today) and a second set of arms on the same rig name does not overwrite it:

    <user config>/demoforge/calibration/<rig>/<arm>.<leader serial>-<follower serial>.calib.json

A rig TOML file of the user's own keeps its calibration beside it (`<rig stem>.<arm>.calib.json`, or the
arm's `calibration = "..."`): that folder is the user's already.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from demoforge.schemas.rig import Arm, Rig

APP = "demoforge"


def user_calibration_dir() -> Path:
    """`<user config>/demoforge/calibration` (XDG_CONFIG_HOME on Linux, ~/Library/... on macOS, ...)."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP)) / "calibration"


def is_shipped(rig: Rig) -> bool:
    """The rig was read from the installed package's rig folder (not a file of the user's)."""
    from demoforge.collect.rigs import RIGS_DIR

    if not rig.source:
        return True  # built in code: no folder of the user's to put it beside
    return Path(rig.source).resolve().parent == RIGS_DIR.resolve()


def adapter_serial(port: str) -> str | None:
    """The USB serial number of the adapter behind `port` (following udev symlinks), None if unknown."""
    if ":" in port:  # emulator:<chain> and other non-device ports
        return None
    try:
        from serial.tools import list_ports
    except ImportError:  # pragma: no cover - pyserial comes with dynamixel-sdk
        return None
    device = os.path.realpath(port)
    for info in list_ports.comports():
        if os.path.realpath(info.device) == device:
            return info.serial_number or None
    return None


def _key(port: str) -> str:
    serial = adapter_serial(port)
    text = serial if serial else "port-" + port.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def calibration_file(rig: Rig, arm: Arm) -> Path:
    """The file holding `arm`'s calibration (it may not exist yet)."""
    if not is_shipped(rig) or arm.calibration:
        return rig.calibration_path(arm)
    folder = user_calibration_dir() / re.sub(r"[^A-Za-z0-9_.-]", "_", rig.name)
    exact = folder / f"{arm.name}.{_key(arm.leader.port)}-{_key(arm.follower.port)}.calib.json"
    if exact.exists() or (adapter_serial(arm.leader.port) and adapter_serial(arm.follower.port)):
        return exact
    # an adapter's serial is unknown now (unplugged, or no serial number): the one calibration there is
    found = sorted(folder.glob(f"{arm.name}.*.calib.json")) if folder.is_dir() else []
    return found[0] if len(found) == 1 else exact
