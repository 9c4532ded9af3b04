"""What `demoforge devices --rig` shows: each bus's adapter and each motor's settings next to what the
rig and its calibration expect, and rebooting motors that report a hardware error (on request only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from demoforge.collect import calibration as cal
from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel import usb_adapter
from demoforge.collect.dynamixel.bus import MotorBus
from demoforge.collect.errors import HardwareError
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.rig import Joint, Rig


@dataclass
class MotorRow:
    id: int
    joint: str
    model: str
    mode: str  # found
    mode_expected: str
    drive_mode: str  # found
    drive_mode_expected: str  # "" when there is no calibration to compare with
    secondary_id: str
    limits: tuple[int, int]  # the motor's own Min/Max Position Limit, ticks
    limits_expected: tuple[int, int] | None  # the rig's joint limits in this motor's ticks
    errors: list[str] = field(default_factory=list)  # hardware errors found
    rebooted: bool = False

    @property
    def mismatches(self) -> list[str]:
        out = []
        if self.mode != self.mode_expected:
            out.append("mode")
        if self.drive_mode_expected and self.drive_mode != self.drive_mode_expected:
            out.append("drive mode")
        if self.limits_expected and (
            self.limits_expected[0] < self.limits[0] or self.limits_expected[1] > self.limits[1]
        ):
            out.append("limits narrower than the rig's (goals are clamped)")
        return out


@dataclass
class BusReport:
    arm: str
    side: str
    port: str
    latency_timer_ms: int | None
    motors: list[MotorRow] = field(default_factory=list)
    error: str = ""  # the bus could not be read

    @property
    def latency_ok(self) -> bool:
        return (self.latency_timer_ms or 0) <= usb_adapter.MAX_LATENCY_TIMER_MS


def inspect_rig(rig: Rig, *, reboot: bool = False) -> list[BusReport]:
    """One report per bus of `rig`; with `reboot`, motors reporting a hardware error are rebooted."""
    reports = []
    for arm in rig.arms:
        try:
            calibration: cal.ArmCalibration | None = cal.for_arm(rig, arm)
        except (HardwareError, ConfigError):
            calibration = None
        for side in cal.SIDES:
            port = getattr(arm, side)
            motors = cal.motor_ids(arm, side)
            models = {i: (j.leader_model if side == "leader" else j.follower_model) for j, i, _ in motors}
            bus = MotorBus(
                port.port, models, baudrate=port.baudrate, timeout_ms=port.timeout_ms, check_latency=False
            )
            report = BusReport(arm.name, side, port.port, None)
            reports.append(report)
            try:
                with bus:
                    report.latency_timer_ms = bus.latency_timer_ms
                    errors = bus.hardware_errors()
                    for j, i, _ in motors:
                        report.motors.append(_row(bus, side, j, i, calibration, errors.get(i, [])))
                        if reboot and i in errors:
                            bus.reboot(i)
                            report.motors[-1].rebooted = True
            except HardwareError as e:
                report.error = e.message
    return reports


def _row(
    bus: MotorBus,
    side: str,
    joint: Joint,
    motor_id: int,
    calibration: cal.ArmCalibration | None,
    errors: list[str],
) -> MotorRow:
    found = bus.read_settings(motor_id)
    m = calibration.side(side).get(motor_id) if calibration is not None else None
    recorded = m.settings if m is not None else None
    if side == "follower":
        mode_expected = joint.follower_mode
    else:
        mode_expected = (
            ct.mode_name(recorded.operating_mode)
            if recorded is not None
            else ct.mode_name(found.operating_mode)
        )
    limits_expected = None
    if m is not None:
        ends = sorted(float(m.zero + v * m.ticks_per_unit()) for v in joint.limits)
        limits_expected = (int(np.floor(ends[0])), int(np.ceil(ends[1])))

    def drive(v: int) -> str:
        return f"{v} ({'reverse' if v & ct.DRIVE_MODE_REVERSE else 'normal'})"

    return MotorRow(
        id=motor_id,
        joint=joint.name,
        model=bus.models[motor_id].name,
        mode=ct.mode_name(found.operating_mode),
        mode_expected=mode_expected,
        drive_mode=drive(found.drive_mode),
        drive_mode_expected=drive(recorded.drive_mode) if recorded is not None else "",
        secondary_id=f"follows {found.follows}" if found.follows is not None else "-",
        limits=(found.min_position, found.max_position),
        limits_expected=limits_expected,
        errors=errors,
    )
