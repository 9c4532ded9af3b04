"""The emulator answers the real dynamixel-sdk byte-exactly: registers, errors, group transactions."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from dynamixel_sdk import (
    COMM_RX_TIMEOUT,
    COMM_SUCCESS,
    GroupBulkRead,
    GroupSyncRead,
    GroupSyncWrite,
    PacketHandler,
)

from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel.bus import _Port
from demoforge.collect.dynamixel.emulator import ChainSpec, Emulator, MotorSpec

ph = PacketHandler(2.0)
MODELS = ["xm430-w350", "xm540-w270", "xl430-w250", "xl330-m077", "xl330-m288"]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator("thread") as e:
        yield e


def open_chain(emu: Emulator, name: str = "c", return_delay: int = 0, line: float | None = None) -> _Port:
    motors = tuple(
        MotorSpec(i, MODELS[(i - 1) % 5], min_position=1000, max_position=3000) for i in range(1, 10)
    )
    path = emu.add_chain(name, ChainSpec(motors, line_bps=line, return_delay=return_delay))
    port = _Port(path, timeout_ms=50.0)  # generous: a loaded test machine must not fail a test
    assert port.setBaudRate(int(line or 1_000_000))  # the SDK's timeouts scale with the baud rate
    return port


def test_ping_reports_model_numbers(emu: Emulator) -> None:
    port = open_chain(emu)
    numbers = [ph.ping(port, i)[0] for i in range(1, 6)]
    assert numbers == [1020, 1120, 1060, 1190, 1200]
    assert ph.ping(port, 42)[1] == COMM_RX_TIMEOUT
    found, result = ph.broadcastPing(port)
    assert result == COMM_SUCCESS and sorted(found) == list(range(1, 10))


def test_status_error_bits(emu: Emulator) -> None:
    port = open_chain(emu)
    assert ph.write4ByteTxRx(port, 1, 132, 5) == (COMM_SUCCESS, ct.ERR_ACCESS)  # read-only
    assert ph.write1ByteTxRx(port, 1, 11, 7) == (COMM_SUCCESS, ct.ERR_DATA_RANGE)  # no mode 7
    assert ph.write1ByteTxRx(port, 3, 11, 0) == (COMM_SUCCESS, ct.ERR_DATA_RANGE)  # XL430: no current mode
    assert ph.write2ByteTxRx(port, 1, 116, 5) == (COMM_SUCCESS, ct.ERR_DATA_LENGTH)  # half a register
    assert ph.write1ByteTxRx(port, 1, 64, 1) == (COMM_SUCCESS, 0)
    assert ph.write1ByteTxRx(port, 1, 11, 4) == (COMM_SUCCESS, ct.ERR_ACCESS)  # EEPROM, torque on
    assert ph.write4ByteTxRx(port, 1, 116, 3500) == (COMM_SUCCESS, ct.ERR_DATA_LIMIT)  # past max limit
    assert ph.read4ByteTxRx(port, 1, 116) == (2048, COMM_SUCCESS, 0)  # the refused goal was not written
    assert ph.readTxRx(port, 1, 140, 40)[2] == ct.ERR_ACCESS  # past the end of the table


def test_sync_write_moves_and_sync_read_reads_state(emu: Emulator) -> None:
    port = open_chain(emu)
    write = GroupSyncWrite(port, ph, 116, 4)
    for i in range(1, 10):
        assert ph.write1ByteTxRx(port, i, 64, 1) == (COMM_SUCCESS, 0)
        write.addParam(i, list((2048 + 100 * i).to_bytes(4, "little")))
    assert write.txPacket() == COMM_SUCCESS
    read = GroupSyncRead(port, ph, ct.STATE_ADDRESS, ct.STATE_SIZE)
    for i in range(1, 10):
        read.addParam(i)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert read.txRxPacket() == COMM_SUCCESS
        if all(abs(read.getData(i, 132, 4) - (2048 + 100 * i)) <= 1 for i in range(1, 10)):
            break
    assert all(abs(read.getData(i, 132, 4) - (2048 + 100 * i)) <= 1 for i in range(1, 10))
    assert emu.state("c", 9)["goal_position"] == 2948


def test_bulk_read_reg_write_action_and_reboot(emu: Emulator) -> None:
    port = open_chain(emu)
    bulk = GroupBulkRead(port, ph)
    assert bulk.addParam(1, 0, 2) and bulk.addParam(2, 132, 4) and bulk.addParam(4, 7, 1)
    assert bulk.txRxPacket() == COMM_SUCCESS
    assert (bulk.getData(1, 0, 2), bulk.getData(2, 132, 4), bulk.getData(4, 7, 1)) == (1020, 2048, 4)
    assert ph.regWriteTxRx(port, 5, 65, 1, [1]) == (COMM_SUCCESS, 0)
    assert ph.read1ByteTxRx(port, 5, 65)[0] == 0  # registered, not applied
    ph.action(port, 254)
    assert ph.read1ByteTxRx(port, 5, 65)[0] == 1
    emu.inject("c", 6, "overload")
    assert ph.read1ByteTxRx(port, 6, 70)[:3] == (0x20, COMM_SUCCESS, ct.ERR_ALERT)
    assert ph.reboot(port, 6) == (COMM_SUCCESS, ct.ERR_ALERT)
    assert ph.read1ByteTxRx(port, 6, 70) == (0, COMM_SUCCESS, 0)


def test_faults_silent_gone_corrupt_and_reappear(emu: Emulator) -> None:
    port = open_chain(emu)
    emu.inject("c", 2, "silent")
    assert ph.write1ByteTxRx(port, 2, 65, 1)[0] == COMM_RX_TIMEOUT
    emu.clear("c", 2)
    assert ph.read1ByteTxRx(port, 2, 65)[0] == 1  # a silent motor still obeys
    emu.inject("c", 3, "gone")
    assert ph.write1ByteTxRx(port, 3, 65, 1)[0] == COMM_RX_TIMEOUT
    emu.clear("c", 3)
    assert ph.read1ByteTxRx(port, 3, 65)[:2] == (0, COMM_SUCCESS)  # a gone motor heard nothing
    emu.inject("c", 4, "corrupt", count=1)
    assert ph.ping(port, 4)[1] != COMM_SUCCESS
    assert ph.ping(port, 4)[1] == COMM_SUCCESS


def test_return_delay_and_line_timing_are_honoured(emu: Emulator) -> None:
    def sync_read_s(port: _Port) -> float:
        """The fastest of 5 sync reads: the line's floor, robust to a loaded machine."""
        read = GroupSyncRead(port, ph, ct.STATE_ADDRESS, ct.STATE_SIZE)
        for i in range(1, 10):
            read.addParam(i)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            assert read.txRxPacket() == COMM_SUCCESS
            times.append(time.perf_counter() - t)
        return min(times)

    ideal = sync_read_s(open_chain(emu, "ideal"))
    slow_line = sync_read_s(open_chain(emu, "57600", line=57_600.0))
    delayed = sync_read_s(open_chain(emu, "delayed", return_delay=250))
    # 57600 bit/s: (18 + 9 * 21) bytes * 10 bits = 36 ms; factory return delay: 9 * 0.5 ms = 4.5 ms.
    assert slow_line > 0.035 > ideal
    assert delayed > 0.0045 > ideal


def test_process_mode_serves_the_sdk() -> None:
    with Emulator("process") as proc:
        port = open_chain(proc)
        assert ph.ping(port, 1)[0] == 1020
        proc.inject("c", 1, "gone")
        assert ph.ping(port, 1)[1] == COMM_RX_TIMEOUT


def test_byte_stuffing_both_ways(emu: Emulator) -> None:
    port = open_chain(emu)
    # -131073 is FF FF FD FF on the wire: stuffed by the SDK in the write, by the emulator in the reply.
    assert ph.write4ByteTxRx(port, 1, 20, 0xFFFDFFFF) == (COMM_SUCCESS, 0)
    assert ph.read4ByteTxRx(port, 1, 20) == (0xFFFDFFFF, COMM_SUCCESS, 0)
    assert emu.state("c", 1)["homing_offset"] == -131073


def test_changing_an_id(emu: Emulator) -> None:
    port = open_chain(emu)
    assert ph.write1ByteTxRx(port, 9, 7, 20) == (COMM_SUCCESS, 0)  # the reply still comes from id 9
    assert ph.ping(port, 20)[:2] == (1190, COMM_SUCCESS)
    assert ph.ping(port, 9)[1] == COMM_RX_TIMEOUT


def test_an_emulator_process_that_cannot_answer_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A starved emulator (here: stopped) is the user's busy machine, told in words; a dead one is told
    at once, not after the whole wait."""
    import os
    import signal

    from demoforge.collect.dynamixel import emulator as emulator_module
    from demoforge.schemas.errors import UserError

    monkeypatch.setattr(emulator_module, "ANSWER_TIMEOUT_S", 1.0)
    with Emulator("process") as proc:
        open_chain(proc)  # started and answering
        pid = proc._runner.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(UserError, match="did not answer 'add' within 1 s"):
                proc.add_chain("d", ChainSpec(motors=(MotorSpec(id=1, model="xm430-w350"),)))
        finally:
            os.kill(pid, signal.SIGCONT)
    with Emulator("process") as proc:
        open_chain(proc)
        proc._runner.kill()
        t = time.monotonic()
        with pytest.raises(RuntimeError, match="stopped before answering 'add'"):
            proc.add_chain("d", ChainSpec(motors=(MotorSpec(id=1, model="xm430-w350"),)))
        assert time.monotonic() - t < 0.9  # told before the 1 s the wait allows
