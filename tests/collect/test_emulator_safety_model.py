"""The emulator models what the safety checks depend on: drive mode, secondary id, snap-back, homing
offset limits, adapter latency, rigid joints with two motors, current limits and overload."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from dynamixel_sdk import COMM_SUCCESS, GroupSyncWrite, PacketHandler

from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel.bus import _Port
from demoforge.collect.dynamixel.emulator import ChainSpec, Emulator, MotorSpec
from demoforge.collect.dynamixel.usb_adapter import read_latency_timer

ph = PacketHandler(2.0)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator("thread") as e:
        yield e


def chain(emu: Emulator, *motors: MotorSpec, name: str = "c") -> _Port:
    port = _Port(emu.add_chain(name, ChainSpec(motors, return_delay=0)), timeout_ms=50.0)
    assert port.setBaudRate(1_000_000)
    return port


def settle(port: _Port, motor_id: int, want: int, tol: int = 2, timeout_s: float = 3.0) -> int:
    """Present position of `motor_id` once it is within `tol` of `want` (bounded polling)."""
    deadline = time.monotonic() + timeout_s
    while True:
        pos = ph.read4ByteTxRx(port, motor_id, 132)[0]
        pos = ct.to_signed(pos, 4)
        if abs(pos - want) <= tol or time.monotonic() > deadline:
            return pos


def test_drive_mode_reverses_present_and_goal(emu: Emulator) -> None:
    port = chain(
        emu,
        MotorSpec(1, "xm430-w350", position=2148),
        MotorSpec(2, "xm430-w350", position=2148, drive_mode=1),
    )
    assert ct.to_signed(ph.read4ByteTxRx(port, 1, 132)[0], 4) == 2148
    assert ct.to_signed(ph.read4ByteTxRx(port, 2, 132)[0], 4) == 1948  # mirrored about 2048
    for i in (1, 2):
        assert ph.write1ByteTxRx(port, i, 64, 1) == (COMM_SUCCESS, 0)
        assert ph.write4ByteTxRx(port, i, 116, 2348) == (COMM_SUCCESS, 0)
    settle(port, 2, 2348)
    assert emu.state("c", 2)["present_position"] == pytest.approx(2348, abs=2)
    # the same goal turned the two motors opposite ways
    assert ct.to_signed(ph.read4ByteTxRx(port, 1, 132)[0], 4) == pytest.approx(2348, abs=2)


def test_secondary_id_shadow_follows_its_partner_and_gets_two_goals_when_sent_both(emu: Emulator) -> None:
    port = chain(
        emu,
        MotorSpec(2, "xm540-w270"),
        MotorSpec(3, "xm540-w270", drive_mode=1, secondary_id=2, couple_to=2),
    )
    for i in (2, 3):
        assert ph.write1ByteTxRx(port, i, 64, 1) == (COMM_SUCCESS, 0)
    assert ph.write4ByteTxRx(port, 2, 116, 2300) == (COMM_SUCCESS, 0)  # one reply: the shadow stays silent
    assert emu.state("c", 3)["goal_position"] == 2300
    settle(port, 2, 2300)
    assert abs(emu.state("c", 2)["present_current"]) < 20  # partners agree: no fight
    # a sync write that also gives the shadow its own (contradicting) goal: it applies both, last wins
    write = GroupSyncWrite(port, ph, 116, 4)
    write.addParam(2, list((2300).to_bytes(4, "little")))
    write.addParam(3, list((1800).to_bytes(4, "little")))
    assert write.txPacket() == COMM_SUCCESS
    assert emu.state("c", 3)["goal_position"] == 1800
    deadline = time.monotonic() + 3.0
    currents = [0]
    while min(currents) <= 200 and time.monotonic() < deadline:
        currents = [abs(emu.state("c", i)["present_current"]) for i in (2, 3)]
    assert min(currents) > 200  # two motors on one rigid joint push against each other


def test_torque_on_in_position_mode_snaps_the_continuous_count_back(emu: Emulator) -> None:
    port = chain(emu, MotorSpec(1, "xm430-w350", position=2048 + 4096 + 100))
    assert ct.to_signed(ph.read4ByteTxRx(port, 1, 132)[0], 4) == 6244  # torque off: continuous
    assert ph.write4ByteTxRx(port, 1, 116, 2148) == (COMM_SUCCESS, 0)
    assert ph.write1ByteTxRx(port, 1, 64, 1) == (COMM_SUCCESS, 0)
    assert ct.to_signed(ph.read4ByteTxRx(port, 1, 132)[0], 4) == pytest.approx(2148, abs=2)  # within one turn


def test_homing_offset_beyond_a_quarter_turn_is_ignored_in_position_mode(emu: Emulator) -> None:
    port = chain(
        emu, MotorSpec(1, "xm430-w350", homing_offset=500), MotorSpec(2, "xm430-w350", homing_offset=1500)
    )
    assert ph.read4ByteTxRx(port, 1, 132)[0] == 2548
    assert ph.read4ByteTxRx(port, 2, 132)[0] == 2048  # offset 1500 ignored
    assert ph.write1ByteTxRx(port, 2, 11, ct.MODE_EXTENDED_POSITION) == (COMM_SUCCESS, 0)
    assert ph.read4ByteTxRx(port, 2, 132)[0] == 3548  # applied in extended position mode


def test_latency_timer_file_and_late_replies(emu: Emulator) -> None:
    port = chain(emu, MotorSpec(1, "xm430-w350"))
    assert read_latency_timer(port.port_name, emu.sysfs_root) == 1
    emu.set_latency_timer("c", 16)
    assert read_latency_timer(port.port_name, emu.sysfs_root) == 16
    t = time.perf_counter()
    assert ph.ping(port, 1)[1] == COMM_SUCCESS
    assert time.perf_counter() - t >= 0.016


def test_current_limit_caps_a_squeezing_gripper_and_an_unlimited_one_overloads(emu: Emulator) -> None:
    port = chain(
        emu,
        MotorSpec(1, "xm430-w350", operating_mode=ct.MODE_CURRENT_POSITION),
        MotorSpec(2, "xm430-w350", operating_mode=ct.MODE_POSITION),
    )
    assert ph.write2ByteTxRx(port, 1, 38, 200) == (COMM_SUCCESS, 0)  # Current Limit (EEPROM)
    for i in (1, 2):
        emu.set_stops("c", i, 1700, 4095)  # an object between the fingers at tick 1700
        assert ph.write1ByteTxRx(port, i, 64, 1) == (COMM_SUCCESS, 0)
    assert ph.write2ByteTxRx(port, 1, 102, 150) == (COMM_SUCCESS, 0)  # Goal Current
    for i in (1, 2):
        assert ph.write4ByteTxRx(port, i, 116, 1100) == (COMM_SUCCESS, 0)  # squeeze shut
    deadline = time.monotonic() + 5.0
    while emu.state("c", 2)["hardware_error_status"] == 0 and time.monotonic() < deadline:
        assert abs(emu.state("c", 1)["present_current"]) <= 150
    assert emu.state("c", 2)["hardware_error_status"] & ct.HW_ERROR_OVERLOAD
    assert emu.state("c", 2)["torque_enable"] == 0
    assert emu.state("c", 1)["hardware_error_status"] == 0 and emu.state("c", 1)["torque_enable"] == 1
