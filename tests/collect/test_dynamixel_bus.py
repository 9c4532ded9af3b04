"""MotorBus through the real SDK: the hot-path transactions, retries, and errors that name the motor."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel import scan_ports
from demoforge.collect.dynamixel.bus import MotorBus, register_emulator_port, unregister_emulator_port
from demoforge.collect.dynamixel.emulator import ChainSpec, Emulator, MotorSpec
from demoforge.collect.errors import HardwareError

MOTORS = {1: "xm430-w350", 2: "xm540-w270", 3: "xl430-w250", 4: "xl330-m077"}
PORT = "emulator:test"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator("thread") as e:
        path = e.add_chain(PORT, ChainSpec(tuple(MotorSpec(i, m) for i, m in MOTORS.items())))
        register_emulator_port(PORT, path)
        yield e
        unregister_emulator_port(PORT)


@pytest.fixture
def bus(emu: Emulator) -> Iterator[MotorBus]:
    with MotorBus(PORT, MOTORS, timeout_ms=50.0, retries=3) as b:
        yield b


def test_configure_and_hot_path(bus: MotorBus, emu: Emulator) -> None:
    bus.check_models()
    bus.set_return_delay(0)
    assert bus.read(1, "return_delay_time") == 0
    bus.set_operating_modes({1: ct.MODE_EXTENDED_POSITION, 3: ct.MODE_POSITION})
    assert bus.read(1, "operating_mode") == ct.MODE_EXTENDED_POSITION
    bus.torque(True)
    bus.sync_write_goal([1000, 2000, 3000, -500])  # id 1 is in extended mode: negative goals allowed
    assert [emu.state(PORT, i)["goal_position"] for i in MOTORS] == [1000, 2000, 3000, 2048]  # 4: refused
    current, velocity, position = bus.sync_read_state()
    assert current.shape == velocity.shape == position.shape == (4,)
    assert position.dtype == np.int64 and bus.stats.retries == 0


def test_corrupt_reply_is_retried_and_counted(bus: MotorBus, emu: Emulator) -> None:
    emu.inject(PORT, 2, "corrupt", count=1)
    bus.sync_read_state()
    assert bus.stats.retries == 1 and bus.stats.corrupt == 1 and bus.stats.failures == 0


def test_motor_that_stops_answering_is_named(bus: MotorBus, emu: Emulator) -> None:
    emu.inject(PORT, 3, "gone")
    with pytest.raises(HardwareError) as err:
        bus.sync_read_state()
    assert err.value.message.startswith("motor 3 (xl430-w250) on emulator:test stopped answering")
    assert bus.stats.retries == 2 and bus.stats.timeouts == 3 and bus.stats.failures == 1
    emu.clear(PORT, 3)  # it reappears: the bus works again
    bus.sync_read_state()


def test_persistent_corruption_and_latency(bus: MotorBus, emu: Emulator) -> None:
    emu.inject(PORT, 4, "corrupt")
    with pytest.raises(HardwareError, match=r"motor 4 .* sends corrupt packets"):
        bus.sync_read_state()
    emu.clear(PORT)
    emu.inject(PORT, 1, "latency", seconds=0.005)  # well within the 50 ms timeout
    bus.sync_read_state()
    emu.inject(PORT, 1, "latency", seconds=0.3)  # far beyond it
    with pytest.raises(HardwareError, match=r"motor 1 .* stopped answering"):
        bus.read(1, "present_position")


def test_hardware_error_is_reported(bus: MotorBus, emu: Emulator) -> None:
    emu.inject(PORT, 2, "overload")
    with pytest.raises(HardwareError, match=r"motor 2 .* hardware error: overload"):
        bus.sync_read_state()


def test_wrong_model_and_missing_motor(emu: Emulator) -> None:
    with (
        MotorBus(PORT, {1: "xl430-w250", 9: "xm430-w350"}, timeout_ms=20.0, retries=1) as b,
        pytest.raises(HardwareError) as err,
    ):
        b.check_models()
    assert "motor 1 on emulator:test is a xm430-w350, the rig says xl430-w250" in err.value.message
    assert "motor 9 (xm430-w350) on emulator:test does not answer" in err.value.message


def test_ports_that_cannot_be_opened() -> None:
    with pytest.raises(HardwareError, match="cannot open serial port /dev/does-not-exist"):
        MotorBus("/dev/does-not-exist", MOTORS).open()
    with pytest.raises(HardwareError, match="emulator:nowhere is an emulated bus"):
        MotorBus("emulator:nowhere", MOTORS).open()


def test_scan_ports_finds_the_motors(emu: Emulator) -> None:
    path = emu.add_chain("scan", ChainSpec((MotorSpec(5, "xm430-w350"), MotorSpec(7, "xl330-m288"))))
    [found] = scan_ports(baudrates=(1_000_000,), ports=[path])
    assert found.motors == {5: "xm430-w350", 7: "xl330-m288"} and found.baudrate == 1_000_000
