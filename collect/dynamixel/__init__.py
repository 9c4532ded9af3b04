"""Dynamixel X-series over Protocol 2.0: control table, bus driver, and a protocol-level emulator.

`scan_ports()` lists the serial ports with the motors answering on each (for `demoforge devices`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_SCAN_BAUDRATES = (1_000_000, 57_600, 4_000_000)


@dataclass(frozen=True)
class PortScan:
    """One serial port and the motors found on it."""

    port: str  # device path
    description: str  # from the USB descriptor, e.g. "OpenRB-150" or "USB <-> Serial Converter"
    baudrate: int | None  # the rate the motors answered at; None if none did
    motors: dict[int, str] = field(default_factory=dict)  # id -> model name ("xm430-w350")
    error: str = ""  # why the port could not be scanned (busy, permission denied)
    latency_timer_ms: int | None = None  # the USB adapter's, from sysfs; None: it has none


def scan_ports(
    baudrates: tuple[int, ...] = DEFAULT_SCAN_BAUDRATES, ports: list[str] | None = None
) -> list[PortScan]:
    """Serial ports (pyserial's list, or `ports`) with the Dynamixel ids and models found on each.

    Each port is tried at each baud rate in turn (a broadcast ping, ~0.8 s) until motors answer.
    """
    from serial.tools import list_ports

    from demoforge.collect.dynamixel.bus import MotorBus
    from demoforge.collect.errors import HardwareError

    infos = {p.device: p.description or "" for p in list_ports.comports()}
    results = []
    for device in ports if ports is not None else sorted(infos):
        found: PortScan | None = None
        error = ""
        latency: int | None = None
        for baud in baudrates:
            bus = MotorBus(device, {}, baudrate=baud, check_latency=False)
            try:
                with bus:
                    latency = bus.latency_timer_ms
                    motors = bus.scan()
            except HardwareError as e:
                error = e.message
                break
            if motors:
                found = PortScan(device, infos.get(device, ""), baud, motors, latency_timer_ms=latency)
                break
        results.append(found or PortScan(device, infos.get(device, ""), None, {}, error, latency))
    return results
