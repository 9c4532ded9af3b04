"""`MotorBus`: one Dynamixel Protocol 2.0 bus through the real dynamixel-sdk.

The recorder's hot path is two transactions per tick: one GroupSyncRead of present current,
velocity and position (contiguous, addresses 126..135) and one GroupSyncWrite of goal positions.
Communication errors are retried within a bounded budget and counted in `bus.stats`; a motor that
keeps failing raises `HardwareError` naming the port, the id and the model.

Ports named `emulator:<name>` are looked up in `resolver` (a mapping given to the bus) or in the
ports registered by `register_emulator_port` (done by `start_virtual_chains`).
"""

from __future__ import annotations

import select
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from dynamixel_sdk import (
    COMM_RX_CORRUPT,
    COMM_SUCCESS,
    GroupSyncRead,
    GroupSyncWrite,
    PacketHandler,
    PortHandler,
)

from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel import usb_adapter
from demoforge.collect.dynamixel.motor_settings import BLOCK_ADDRESS, BLOCK_SIZE, MotorSettings
from demoforge.collect.dynamixel.port_lock import PortLock
from demoforge.collect.errors import HardwareError

_EMULATOR_PORTS: dict[str, str] = {}
_EMULATOR_SYSFS: dict[str, str] = {}  # emulated ports -> the emulator's sysfs-like root
_HW_ERRORS = {0: "input voltage", 2: "overheating", 3: "motor encoder", 4: "electrical shock", 5: "overload"}


def register_emulator_port(port: str, device_path: str, sysfs_root: str | None = None) -> None:
    """Make `MotorBus(port)` open `device_path` (an emulator's pty) for an `emulator:<name>` port;
    its adapter's latency timer is read under `sysfs_root` (the emulator's)."""
    _EMULATOR_PORTS[port] = device_path
    if sysfs_root is not None:
        _EMULATOR_SYSFS[port] = str(sysfs_root)


def unregister_emulator_port(port: str) -> None:
    _EMULATOR_PORTS.pop(port, None)
    _EMULATOR_SYSFS.pop(port, None)


def resolve_port(port: str, resolver: Mapping[str, str] | None = None) -> str:
    """The device path to open for `port`; `emulator:<name>` ports must be resolvable."""
    if not port.startswith("emulator:"):
        return port
    path = (resolver or {}).get(port) or _EMULATOR_PORTS.get(port)
    if path is None:
        raise HardwareError(
            f"{port} is an emulated bus but no emulator is running for it",
            "start the virtual chains first (start_virtual_chains(rig))",
        )
    return path


class _Port(PortHandler):
    """PortHandler with the rig's per-packet timeout that sleeps in select() instead of spinning.

    The SDK polls a non-blocking serial port in a tight loop for up to 34 ms per packet, burning a
    core and (in one process) starving other threads of the GIL; waiting in select() does neither.
    """

    def __init__(self, path: str, timeout_ms: float) -> None:
        super().__init__(path)
        self.timeout_ms = timeout_ms

    def setPacketTimeout(self, packet_length: int) -> None:
        self.packet_start_time = self.getCurrentTime()
        self.packet_timeout = self.tx_time_per_byte * packet_length + self.timeout_ms

    def readPort(self, length: int) -> bytes:
        data: bytes = self.ser.read(length)
        if not data:
            remaining_ms = self.packet_timeout - self.getTimeSinceStart()
            if remaining_ms > 0:
                select.select([self.ser.fileno()], [], [], min(remaining_ms, 2.0) / 1000)
                data = self.ser.read(length)
        return data


@dataclass
class BusStats:
    """Counters of one bus since it was opened."""

    transactions: int = 0  # sync reads, sync writes and register accesses attempted
    retries: int = 0  # attempts repeated after a timeout or a corrupt packet
    timeouts: int = 0
    corrupt: int = 0
    failures: int = 0  # transactions that used up their retry budget


class MotorBus:
    """The motors on one serial port (`motors`: id -> model name), in the order given."""

    def __init__(
        self,
        port: str,
        motors: Mapping[int, str],
        *,
        baudrate: int = 1_000_000,
        timeout_ms: float = 8.0,
        retries: int = 3,
        resolver: Mapping[str, str] | None = None,
        sysfs_root: str | None = None,
        check_latency: bool = True,
    ) -> None:
        self.port = port
        self.ids = list(motors)
        self.models = {i: ct.model(m) for i, m in motors.items()}
        self.baudrate = baudrate
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.stats = BusStats()
        self._resolver = resolver
        self.sysfs_root = sysfs_root or _EMULATOR_SYSFS.get(port, "/sys")
        self.check_latency = check_latency  # False only to report it (`demoforge devices`)
        self.latency_timer_ms: int | None = None  # read at open; None: the adapter has no timer
        self._ph = PacketHandler(2.0)
        self._port: _Port | None = None
        self._lock: PortLock | None = None  # one process per port (`port_lock`)
        self._state_read: GroupSyncRead | None = None
        self._health_read: GroupSyncRead | None = None

    # --- connection --------------------------------------------------------------------------------
    def open(self) -> MotorBus:
        path = resolve_port(self.port, self._resolver)
        port = _Port(path, self.timeout_ms)
        try:
            ok = port.setBaudRate(self.baudrate)
        except (OSError, ValueError) as e:  # pyserial's SerialException is an OSError
            raise HardwareError(
                f"cannot open serial port {self.port}: {e}",
                "check the USB cable and the port name (`demoforge devices` lists ports); "
                "on Linux add yourself to the `dialout` group",
            ) from None
        if not ok:
            raise HardwareError(
                f"{self.port}: baud rate {self.baudrate} is not supported",
                "use 57600, 1000000, 2000000, 3000000 or 4000000",
            )
        lock = PortLock(self.port, path)
        try:
            lock.acquire(port.ser.fileno())
        except HardwareError:
            port.closePort()
            raise
        self._port, self._lock = port, lock
        self.latency_timer_ms = usb_adapter.read_latency_timer(path, self.sysfs_root)
        if self.check_latency and (self.latency_timer_ms or 0) > usb_adapter.MAX_LATENCY_TIMER_MS:
            self.close()
            raise HardwareError(
                f"{self.port}: the USB adapter's latency timer is {self.latency_timer_ms} ms "
                f"({usb_adapter.latency_timer_file(path, self.sysfs_root)}): every reply arrives that late, "
                f"so reads time out or retry and a 50 Hz tick (20 ms) overruns",
                usb_adapter.fix_hint(path, self.sysfs_root),
            )
        self._state_read = GroupSyncRead(port, self._ph, ct.STATE_ADDRESS, ct.STATE_SIZE)
        self._health_read = GroupSyncRead(port, self._ph, ct.STATE_ADDRESS, ct.HEALTH_SIZE)
        for i in self.ids:
            self._state_read.addParam(i)
            self._health_read.addParam(i)
        return self

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
        if self._port is not None and self._port.is_open:
            self._port.closePort()
        self._port, self._lock = None, None

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def __enter__(self) -> MotorBus:
        return self.open() if self._port is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _p(self) -> _Port:
        if self._port is None:
            raise RuntimeError(f"bus {self.port} is not open")
        return self._port

    def describe(self, motor_id: int) -> str:
        model = self.models.get(motor_id)
        return f"motor {motor_id} ({model.name if model else 'unknown model'}) on {self.port}"

    # --- error handling ----------------------------------------------------------------------------
    def _count(self, result: int) -> None:
        if result == COMM_RX_CORRUPT:
            self.stats.corrupt += 1
        else:
            self.stats.timeouts += 1

    def _not_answering(self, motor_id: int, result: int) -> HardwareError:
        self.stats.failures += 1
        what = "sends corrupt packets" if result == COMM_RX_CORRUPT else "stopped answering"
        return HardwareError(
            f"{self.describe(motor_id)} {what} ({self.retries} attempts)",
            "check its cable, power and id; `demoforge devices` lists the motors that answer",
        )

    def _check_status(self, motor_id: int, error: int) -> None:
        if error & ct.ERR_ALERT:
            bits = self.read(motor_id, "hardware_error_status", check=False)
            names = [n for b, n in _HW_ERRORS.items() if bits >> b & 1] or [f"code {bits}"]
            raise HardwareError(
                f"{self.describe(motor_id)} reports a hardware error: {', '.join(names)}",
                "torque is off; remove the cause (a blocked joint, an object squeezed too hard), then "
                "reboot it with `demoforge devices --rig RIG --reboot` or power-cycle the arm",
            )
        if error:
            raise HardwareError(
                f"{self.describe(motor_id)} refused the instruction: {self._ph.getRxPacketError(error)}",
                "check the value and the motor's mode",
            )

    # --- single registers --------------------------------------------------------------------------
    def ping(self, motor_id: int) -> int | None:
        """The model number of `motor_id`, or None if it does not answer."""
        for _ in range(self.retries):
            self.stats.transactions += 1
            number, result, _ = self._ph.ping(self._p, motor_id)
            if result == COMM_SUCCESS:
                return int(number)
            self._count(result)
        return None

    def scan(self) -> dict[int, str]:
        """Every motor answering a broadcast ping: id -> model name (takes ~0.8 s)."""
        found, result = self._ph.broadcastPing(self._p)
        return (
            {int(i): ct.model_name(v[0]) for i, v in sorted(found.items())} if result == COMM_SUCCESS else {}
        )

    def read(self, motor_id: int, name: str, *, check: bool = True) -> int:
        """One register of one motor, signed where the register is."""
        reg = self.models[motor_id].register(name)
        for attempt in range(self.retries):
            self.stats.transactions += 1
            self.stats.retries += attempt > 0
            data, result, error = self._ph.readTxRx(self._p, motor_id, reg.address, reg.size)
            if result == COMM_SUCCESS:
                if check:
                    self._check_status(motor_id, error)
                raw = int.from_bytes(bytes(data), "little")
                return ct.to_signed(raw, reg.size) if reg.signed or name.startswith("present_") else raw
            self._count(result)
        raise self._not_answering(motor_id, result)

    def write(self, motor_id: int, name: str, value: int) -> None:
        """Write one register of one motor and check its status reply.

        EEPROM registers are written only after reading that torque is off: the motor would refuse
        the write anyway, and code that tries has forgotten a step (a bug, not a user's mistake).
        """
        reg = self.models[motor_id].register(name)
        if reg.address < ct.EEPROM_END and self.read(motor_id, "torque_enable"):
            raise RuntimeError(f"{self.describe(motor_id)}: {name} is EEPROM; turn torque off first")
        data = list(ct.to_unsigned(int(value), reg.size).to_bytes(reg.size, "little"))
        for attempt in range(self.retries):
            self.stats.transactions += 1
            self.stats.retries += attempt > 0
            result, error = self._ph.writeTxRx(self._p, motor_id, reg.address, reg.size, data)
            if result == COMM_SUCCESS:
                self._check_status(motor_id, error)
                return
            self._count(result)
        raise self._not_answering(motor_id, result)

    def read_settings(self, motor_id: int) -> MotorSettings:
        """The motor's direction, mode, secondary id, offset and limits (one READ).

        A reply that refuses the read (its error byte) or carries fewer bytes than asked is never
        parsed: zeros there would read as limits 0..0 and clamp every goal to tick 0."""
        result, error, data = COMM_SUCCESS, 0, b""
        for attempt in range(self.retries):
            self.stats.transactions += 1
            self.stats.retries += attempt > 0
            raw, result, error = self._ph.readTxRx(self._p, motor_id, BLOCK_ADDRESS, BLOCK_SIZE)
            data = bytes(raw)
            if result == COMM_SUCCESS and len(data) == BLOCK_SIZE and not error & ~ct.ERR_ALERT:
                return MotorSettings.from_block(data)
            if result == COMM_SUCCESS:
                self.stats.corrupt += 1
            else:
                self._count(result)
        if result != COMM_SUCCESS:
            raise self._not_answering(motor_id, result)
        self.stats.failures += 1
        why = (
            f"refused it ({self._ph.getRxPacketError(error)})"
            if error & ~ct.ERR_ALERT
            else f"answered {len(data)} of {BLOCK_SIZE} bytes"
        )
        raise HardwareError(
            f"reading the settings of {self.describe(motor_id)}: the motor {why} ({self.retries} attempts)",
            "power-cycle the arm; if it persists, check the motor's firmware with Dynamixel Wizard",
        )

    def hardware_errors(self) -> dict[int, list[str]]:
        """Motors whose Hardware Error Status is set: id -> the errors' names."""
        out = {}
        for i in self.ids:
            bits = self.read(i, "hardware_error_status", check=False)
            if bits:
                out[i] = [n for b, n in _HW_ERRORS.items() if bits >> b & 1] or [f"code {bits}"]
        return out

    def reboot(self, motor_id: int) -> None:
        """Reboot one motor (clears a hardware error; torque comes back off)."""
        for _ in range(self.retries):
            self.stats.transactions += 1
            result, _ = self._ph.reboot(self._p, motor_id)
            if result == COMM_SUCCESS:
                return
            self._count(result)
        raise self._not_answering(motor_id, result)

    def check_models(self) -> None:
        """Every expected motor answers a ping with the expected model, else one error naming them all."""
        problems = []
        for i in self.ids:
            number = self.ping(i)
            if number is None:
                problems.append(f"{self.describe(i)} does not answer")
            elif number != self.models[i].number:
                problems.append(
                    f"motor {i} on {self.port} is a {ct.model_name(number)}, "
                    f"the rig says {self.models[i].name}"
                )
        if problems:
            raise HardwareError("; ".join(problems), "check power, cables and ids, or fix the rig file")

    # --- configuration -----------------------------------------------------------------------------
    def torque(self, on: bool, ids: Iterable[int] | None = None) -> None:
        for i in self.ids if ids is None else ids:
            self.write(i, "torque_enable", int(on))

    def set_operating_modes(self, modes: Mapping[int, int]) -> None:
        """Operating Mode per motor (EEPROM: torque must be off)."""
        for i, mode in modes.items():
            if self.read(i, "operating_mode") != mode:
                self.write(i, "operating_mode", mode)

    def set_return_delay(self, us: int = 0) -> list[int]:
        """Return Delay Time of every motor (the factory 500 µs costs ~4.5 ms per 9-motor sync read).

        It is EEPROM: motors holding a pose (torque on) are left alone rather than dropped; their ids
        are returned (`ArmBus.set_modes` sets them once torque is off)."""
        skipped = []
        for i in self.ids:
            if self.read(i, "return_delay_time") != us // 2:
                if self.read(i, "torque_enable"):
                    skipped.append(i)
                    continue
                self.write(i, "return_delay_time", us // 2)
        return skipped

    def set_baudrate(self, baudrate: int) -> None:
        """Switch every motor, then this port, to `baudrate` (motors answer at the new rate only)."""
        if baudrate not in ct.BAUD_VALUE:
            raise HardwareError(
                f"{baudrate} bit/s is not a Dynamixel baud rate",
                f"use one of {', '.join(map(str, ct.BAUD_VALUE))}",
            )
        for i in self.ids:
            self.write(i, "baud_rate", ct.BAUD_VALUE[baudrate])
        self.baudrate = baudrate
        self._p.setBaudRate(baudrate)

    # --- the hot path ------------------------------------------------------------------------------
    def sync_read_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One sync read of every motor: (current/load, velocity, position) raw signed values, (M,) each."""
        assert self._state_read is not None, "open() the bus first"
        raw = np.frombuffer(self._sync_read(self._state_read, ct.STATE_SIZE), dtype="<i2, <i4, <i4")
        return raw["f0"].astype(np.int64), raw["f1"].astype(np.int64), raw["f2"].astype(np.int64)

    def sync_read_health(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`sync_read_state` plus input voltage (0.1 V) and temperature (°C), in the same one sync read
        (126..146: 11 more bytes per motor, instead of a second transaction)."""
        assert self._health_read is not None, "open() the bus first"
        raw = np.frombuffer(
            self._sync_read(self._health_read, ct.HEALTH_SIZE), dtype="<i2, <i4, <i4, V8, <u2, u1"
        )
        return tuple(raw[f].astype(np.int64) for f in ("f0", "f1", "f2", "f4", "f5"))  # type: ignore[return-value]

    def _sync_read(self, group: GroupSyncRead, size: int) -> bytes:
        """The data of one sync read, every motor's `size` bytes in `self.ids` order."""
        failed, result = -1, COMM_SUCCESS
        for attempt in range(self.retries):
            self.stats.transactions += 1
            self.stats.retries += attempt > 0
            if attempt > 0:
                # Replies of the failed attempt that arrive late would be read as this attempt's
                # (the SDK's clearPort only flushes output): drop them first.
                self._p.ser.reset_input_buffer()
            result = group.txPacket()
            failed = -1
            if result == COMM_SUCCESS:
                errors = []
                # Our own receive loop (instead of group.rxPacket) tells which motor failed.
                for i in self.ids:
                    data, result, error = self._ph.readRx(self._p, i, size)
                    if result != COMM_SUCCESS:
                        failed = i
                        break
                    group.data_dict[i] = data
                    errors.append((i, error))
                if failed < 0:
                    for i, error in errors:
                        self._check_status(i, error)
                    return b"".join(bytes(group.data_dict[i]) for i in self.ids)
            self._count(result)
        raise self._not_answering(failed if failed >= 0 else self.ids[0], result)

    def sync_write(self, name: str, values: Mapping[int, int]) -> None:
        """One sync write of a register (no status replies: a broadcast)."""
        reg = next(iter(self.models.values())).register(name)
        group = GroupSyncWrite(self._p, self._ph, reg.address, reg.size)
        for i, v in values.items():
            group.addParam(i, list(ct.to_unsigned(int(v), reg.size).to_bytes(reg.size, "little")))
        self.stats.transactions += 1
        result = group.txPacket()
        if result != COMM_SUCCESS:
            self.stats.failures += 1
            raise HardwareError(
                f"sync write to {self.port} failed: {self._ph.getTxRxResult(result)}", "check the USB adapter"
            )

    def sync_write_goal(self, ticks: np.ndarray | list[int]) -> None:
        """Goal Position of every motor, `ticks` in the order of `self.ids`."""
        self.sync_write("goal_position", dict(zip(self.ids, (int(t) for t in ticks), strict=True)))
