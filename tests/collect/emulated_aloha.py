"""One ALOHA left arm on the protocol emulator (real dynamixel-sdk), calibrated as a user would: the
helpers the real-arm safety tests share (their `rig` and `chains` fixtures: conftest.py)."""

from __future__ import annotations

from typing import Any

from demoforge.collect import calibration as cal
from demoforge.collect.arm import ArmBus
from demoforge.collect.calibration_flow import calibrate_arm
from demoforge.collect.virtual_rig import VirtualChains
from demoforge.schemas.rig import Rig

LEFT_F, LEFT_L = "emulator:left_follower", "emulator:left_leader"


def calibrate(rig: Rig, chains: VirtualChains, **kw: Any) -> cal.ArmCalibration:
    """Calibrate the arm with the emulator posing it (no questions, no range sweep)."""
    return calibrate_arm(
        rig, rig.arms[0], ask=None, poser=chains.place_pose, range_s=0, say=lambda _: None, **kw
    )


def open_side(rig: Rig, side: str, arm: int = 0, **kw: Any) -> ArmBus:
    """One side ("leader" or "follower") of arm `arm`, opened with its calibration."""
    return ArmBus(rig.arms[arm], side, cal.for_arm(rig, rig.arms[arm]), **kw).open()
