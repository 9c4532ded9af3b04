"""What a follower's motors say about their own state: effort limits, temperature and input voltage.

Effort (Present Current, address 126) comes with every tick's reading; a joint above its limit for a
few ticks in a row is blocked or pinning something, and the arm holds (`ArmBus.hold_here`).
Temperature and input voltage change over seconds: they ride along in the same sync read about once
a second (`HEALTH_EVERY_S`), 11 more bytes per motor on that tick instead of a transaction of its own.
A motor past its Temperature Limit (address 31) raises its overheating error and turns its own torque
off, so the arm drops mid-episode (ROBOTIS e-manual, `_includes/en/dxl/control_table/temperature_limit.md`
in ROBOTIS-GIT/emanual; the X series' default Shutdown value 52 includes the overheating bit). Below
that, we warn at `WARN_MARGIN_C` and hold at `HOLD_MARGIN_C`, while the arm is still powered.
Input voltage outside the motor's Min/Max Voltage Limit (addresses 32, 34) is an input voltage error;
the default Shutdown leaves torque on for it, so a voltage near a limit only warns.
"""

from __future__ import annotations

import numpy as np

from demoforge.collect.dynamixel import control_table as ct
from demoforge.schemas.rig import Joint

HEALTH_EVERY_S = 1.0  # how often temperature and voltage are read
WARN_MARGIN_C = 10  # °C below the Temperature Limit: warn
HOLD_MARGIN_C = 5  # °C below the Temperature Limit: hold the arm (its own shutdown comes at the limit)
VOLTAGE_MARGIN = 5  # 0.1 V units inside Min/Max Voltage Limit: warn
# Default effort limit: this fraction of the most current the model's Current Limit register allows
# (XM540-W270 2047 x 2.69 mA = 5.5 A, XM430-W350 1193 x 2.69 mA = 3.2 A, XL330 1750 mA; XL430 reports
# load in % of its maximum). Below the emulator's overload (80% for 1 s) and the motor's stall current.
DEFAULT_EFFORT_FRACTION = 0.7


def effort_limit(joint: Joint, model: ct.Model) -> float:
    """A joint's effort limit in its effort unit (mA, XL430: % load); inf for grippers (their current is
    capped by the motor itself in current-based position mode) and for `effort_limit < 0` (off)."""
    if joint.kind == "gripper" or joint.effort_limit < 0:
        return float("inf")
    if joint.effort_limit > 0:
        return float(joint.effort_limit)
    if model.current_unit_ma is None:
        return 100.0 * DEFAULT_EFFORT_FRACTION
    return DEFAULT_EFFORT_FRACTION * model.register("current_limit").hi * model.current_unit_ma


class MotorHealth:
    """Temperature and input voltage of one bus's motors, (M,) each, and their limits (set at open)."""

    def __init__(self, n: int) -> None:
        self.temperature = np.zeros(n, np.int64)  # °C
        self.voltage = np.zeros(n, np.int64)  # 0.1 V
        self.temperature_limit = np.full(n, 80, np.int64)
        self.min_voltage = np.zeros(n, np.int64)
        self.max_voltage = np.full(n, 1000, np.int64)
        self.readings = 0
        self._next = 0.0
        self._warned: set[tuple[int, str]] = set()

    def due(self, now: float) -> bool:
        """Time for the next reading (about once a second)."""
        if now < self._next:
            return False
        self._next = now + HEALTH_EVERY_S
        return True

    def update(self, voltage: np.ndarray, temperature: np.ndarray) -> None:
        self.voltage, self.temperature = np.asarray(voltage), np.asarray(temperature)
        self.readings += 1

    def warnings(self) -> list[tuple[int, str]]:
        """(motor index, text) for each motor newly near a limit (each said once per condition)."""
        out = []
        for k in range(len(self.temperature)):
            t, limit = int(self.temperature[k]), int(self.temperature_limit[k])
            v = int(self.voltage[k])
            found = []
            if t >= limit - WARN_MARGIN_C:
                found.append(("hot", f"{t} °C, {limit - t} °C below its limit ({limit} °C)"))
            if v < self.min_voltage[k] + VOLTAGE_MARGIN:
                found.append(
                    ("low", f"input {v / 10:.1f} V, near its minimum {self.min_voltage[k] / 10:.1f} V")
                )
            if v > self.max_voltage[k] - VOLTAGE_MARGIN:
                found.append(
                    ("high", f"input {v / 10:.1f} V, near its maximum {self.max_voltage[k] / 10:.1f} V")
                )
            for key, text in found:
                if (k, key) not in self._warned:
                    self._warned.add((k, key))
                    out.append((k, text))
        return out

    def too_hot(self) -> int | None:
        """The index of the hottest motor within `HOLD_MARGIN_C` of its limit, or None."""
        margin = self.temperature_limit - self.temperature
        k = int(np.argmin(margin)) if len(margin) else 0
        return k if len(margin) and margin[k] <= HOLD_MARGIN_C else None

    def summary(self, ids: list[int]) -> str:
        """'41 °C max (motor 3), 11.9-12.1 V' for the operator display; '' before the first reading."""
        if not self.readings or not len(self.temperature):
            return ""
        k = int(np.argmax(self.temperature))
        return (
            f"{self.temperature[k]} °C max (motor {ids[k]}), "
            f"{self.voltage.min() / 10:.1f}-{self.voltage.max() / 10:.1f} V"
        )
