"""ArmBus on emulated ALOHA-like arms: the real dynamixel-sdk talks to the emulator over ptys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from demoforge.collect import calibration as cal
from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.errors import HardwareError
from demoforge.collect.virtual_rig import VirtualChains, start_virtual_chains
from demoforge.schemas.rig import Rig, parse_rig
from tests.collect.emulated_aloha import open_side
from tests.polling import poll

# (name, leader ids, follower ids, leader model, follower model, limits, kind)
ALOHA_JOINTS: list[tuple[str, list[int], list[int], str, str, list[float], str]] = [
    ("waist", [1], [1], "xm430-w350", "xm430-w350", [-3.0, 3.0], "revolute"),
    ("shoulder", [2, 3], [2, 3], "xm430-w350", "xm540-w270", [-1.8, 1.9], "revolute"),
    ("elbow", [4, 5], [4, 5], "xm430-w350", "xm540-w270", [-2.0, 1.6], "revolute"),
    ("forearm_roll", [6], [6], "xl430-w250", "xm540-w270", [-3.0, 3.0], "revolute"),
    ("wrist_angle", [7], [7], "xl430-w250", "xm540-w270", [-1.8, 2.1], "revolute"),
    ("wrist_rotate", [8], [8], "xl430-w250", "xm430-w350", [-3.0, 3.0], "revolute"),
    ("gripper", [9], [9], "xl330-m288", "xm430-w350", [0.0, 1.0], "gripper"),
]


def aloha_rig(tmp: Path, arms: tuple[str, ...] = ("left", "right")) -> Rig:
    """A two-arm virtual ALOHA: 9 motors and 7 joints per side, shadows on shoulder and elbow."""
    data: dict[str, Any] = {"name": "aloha-virtual", "fps": 50, "arms": []}
    for arm in arms:
        joints = [
            {
                "name": n,
                "leader_ids": li,
                "follower_ids": fi,
                "leader_model": lm,
                "follower_model": fm,
                "limits": lim,
                "kind": kind,
            }
            for n, li, fi, lm, fm, lim, kind in ALOHA_JOINTS
        ]
        data["arms"].append(
            {
                "name": arm,
                # Generous timeouts: a loaded test machine must not turn into a failed test.
                "leader": {"port": f"emulator:{arm}_leader", "timeout_ms": 50.0},
                "follower": {"port": f"emulator:{arm}_follower", "timeout_ms": 50.0},
                "joints": joints,
            }
        )
    return parse_rig(data, str(tmp / "aloha-virtual.toml"))


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return aloha_rig(tmp_path)


@pytest.fixture
def chains(rig: Rig) -> Iterator[VirtualChains]:
    with start_virtual_chains(rig, mode="thread") as c:
        yield c


def test_two_arms_read_leaders_drive_followers(rig: Rig, chains: VirtualChains) -> None:
    sides = [(open_side(rig, "leader", a), open_side(rig, "follower", a)) for a in range(2)]
    try:
        for leader, follower in sides:
            follower.set_modes()
            follower.torque(True)
            qpos, qvel, effort = leader.read()
            assert qpos.shape == qvel.shape == effort.shape == (7,)
            lo, hi = np.array(rig.joint_limits[:7]).T
            assert np.all(qpos >= lo - 1e-3) and np.all(qpos <= hi + 1e-3)
            assert 0.0 <= qpos[6] <= 1.0  # gripper normalized
            target = np.clip(qpos, lo, hi)
            follower.write(target)
            assert poll(lambda f=follower, t=target: np.allclose(f.read()[0], t, atol=0.01))
        assert all(leader.bus.stats.failures == 0 for leader, _ in sides)
    finally:
        for leader, follower in sides:
            leader.close()
            follower.close()


def test_leader_moves_with_scripted_operator(rig: Rig, chains: VirtualChains) -> None:
    with open_side(rig, "leader") as leader:
        first = leader.read()[0]
        assert poll(lambda: not np.allclose(leader.read()[0], first, atol=1e-3))


def test_shadow_motor_is_written_mirrored(rig: Rig, chains: VirtualChains) -> None:
    with open_side(rig, "follower") as follower:
        follower.set_modes()
        follower.torque(True)
        goal = np.array([0.1, 0.5, -0.4, 0.0, 0.2, 0.0, 0.8])
        follower.write(goal)
        s2 = chains.state("emulator:left_follower", 2)["goal_position"]
        s3 = chains.state("emulator:left_follower", 3)["goal_position"]
        assert s2 - ct.CENTER_TICK == -(s3 - ct.CENTER_TICK) != 0
        modes = [chains.state("emulator:left_follower", i)["operating_mode"] for i in (1, 9)]
        assert modes == [ct.MODE_POSITION, ct.MODE_CURRENT_POSITION]


def test_follower_holds_when_a_motor_disappears(rig: Rig, chains: VirtualChains) -> None:
    port = "emulator:left_follower"
    with open_side(rig, "follower", retries=2) as follower:
        follower.set_modes()
        follower.torque(True)
        follower.write(np.zeros(7))
        chains.inject(port, 4, "gone")
        with pytest.raises(HardwareError) as err:
            follower.read()
        assert "motor 4 (xm540-w270) on emulator:left_follower" in err.value.message
        assert follower.bus.stats.retries >= 1 and follower.bus.stats.failures == 1
        before = [chains.state(port, i)["goal_position"] for i in range(1, 10)]
        with pytest.raises(HardwareError):  # held: refuses without touching the bus
            follower.write(np.full(7, 0.5))
        assert [chains.state(port, i)["goal_position"] for i in range(1, 10)] == before
        assert all(chains.state(port, i)["torque_enable"] == 1 for i in (1, 2, 3))  # others hold the pose


def test_missing_calibration_is_identity_for_virtual_and_an_error_for_real(rig: Rig, tmp_path: Path) -> None:
    arm = rig.arms[0]
    assert cal.for_arm(rig, arm) == cal.identity(arm)
    real = parse_rig(_real_rig_dict(), str(tmp_path / "koch.toml"))
    with pytest.raises(HardwareError) as err:
        cal.for_arm(real, real.arms[0])
    assert "demoforge calibrate --rig" in err.value.hint


def _real_rig_dict() -> dict[str, Any]:
    joints = [
        {
            "name": "pan",
            "leader_ids": [1],
            "follower_ids": [1],
            "leader_model": "xl330-m077",
            "follower_model": "xl430-w250",
            "limits": [-3.0, 3.0],
        }
    ]
    return {
        "name": "koch",
        "fps": 50,
        "arms": [
            {
                "name": "main",
                "leader": {"port": "/dev/ttyACM0"},
                "follower": {"port": "/dev/ttyACM1"},
                "joints": joints,
            }
        ],
    }


def test_virtual_chains_in_their_own_process(rig: Rig) -> None:
    with start_virtual_chains(rig, line="4M") as chains:  # the default mode: a spawned process
        assert chains.device_path("emulator:right_leader").startswith("/dev/")
        with open_side(rig, "leader", 1, retries=1) as leader:
            assert leader.read()[0].shape == (7,)
            chains.inject("emulator:right_leader", 9, "silent")
            with pytest.raises(HardwareError, match=r"motor 9 \(xl330-m288\) on emulator:right_leader"):
                leader.read()
        with pytest.raises(KeyError, match="not an emulated port"):
            chains.device_path("/dev/ttyUSB0")
