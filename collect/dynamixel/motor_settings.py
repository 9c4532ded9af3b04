"""The settings a motor keeps in its own EEPROM that decide where it goes: read in one transaction.

Captured by calibration and compared at every open: a vendor tool, a factory reset or another
program can change them between sessions, and each one silently changes what a goal means
(Drive Mode flips the direction, Homing Offset shifts zero, Secondary ID makes a motor obey another
id's goals, the position limits make the motor refuse goals).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from demoforge.collect.dynamixel import control_table as ct

BLOCK_ADDRESS = 9  # Return Delay Time .. Min Position Limit: one read of the EEPROM area
BLOCK_SIZE = 56 - BLOCK_ADDRESS
FACTORY_RETURN_DELAY = 250  # 500 µs: what a new (or factory-reset) motor has; every open sets 0


@dataclass(frozen=True)
class MotorSettings:
    drive_mode: int = 0
    operating_mode: int = ct.MODE_POSITION
    secondary_id: int = ct.SECONDARY_ID_NONE
    homing_offset: int = 0
    min_position: int = 0
    max_position: int = 4095
    # Return Delay Time (2 µs units) as calibration left it; None: not recorded (identity calibrations)
    return_delay: int | None = None
    temperature_limit: int = 80  # °C: past it the motor turns its torque off (overheating error)
    max_voltage: int = 160  # 0.1 V
    min_voltage: int = 60  # 0.1 V

    @classmethod
    def from_block(cls, data: bytes) -> MotorSettings:
        """Parse the bytes of a READ of `BLOCK_SIZE` bytes at `BLOCK_ADDRESS`."""

        def field(address: int, size: int, signed: bool = False) -> int:
            raw = int.from_bytes(data[address - BLOCK_ADDRESS : address - BLOCK_ADDRESS + size], "little")
            return ct.to_signed(raw, size) if signed else raw

        return cls(
            return_delay=field(9, 1),
            drive_mode=field(10, 1),
            operating_mode=field(11, 1),
            secondary_id=field(12, 1),
            homing_offset=field(20, 4, signed=True),
            temperature_limit=field(31, 1),
            max_voltage=field(32, 2),
            min_voltage=field(34, 2),
            max_position=field(48, 4),
            min_position=field(52, 4),
        )

    @property
    def reversed(self) -> bool:
        return bool(self.drive_mode & ct.DRIVE_MODE_REVERSE)

    @property
    def follows(self) -> int | None:
        """The id this motor also obeys (Secondary ID), or None."""
        return self.secondary_id if self.secondary_id < 253 else None

    def to_json(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> MotorSettings:
        return cls(**{k: int(v) for k, v in doc.items() if k in cls.__dataclass_fields__ and v is not None})


def differences(found: MotorSettings, expected: MotorSettings, *, mode: bool = True) -> list[str]:
    """What differs, in words ("Drive Mode is 1 (reverse), calibration recorded 0 (normal)")."""
    out = []
    if (
        expected.return_delay is not None
        and expected.return_delay != FACTORY_RETURN_DELAY
        and found.return_delay == FACTORY_RETURN_DELAY
    ):
        # Every open sets 0, so the factory value means the motor was replaced or reset since then.
        out.append(
            f"it has the factory Return Delay Time ({FACTORY_RETURN_DELAY} = 500 µs) where calibration "
            f"recorded {expected.return_delay}: the motor was replaced or factory-reset since calibration"
        )
    if found.reversed != expected.reversed:

        def word(s: MotorSettings) -> str:
            return f"{s.drive_mode} ({'reverse' if s.reversed else 'normal'})"

        out.append(f"Drive Mode is {word(found)}, calibration recorded {word(expected)}")
    if found.homing_offset != expected.homing_offset:
        out.append(f"Homing Offset is {found.homing_offset}, calibration recorded {expected.homing_offset}")
    if found.follows != expected.follows:

        def sid(s: MotorSettings) -> str:
            return f"{s.secondary_id}" + (
                f" (follows motor {s.follows})" if s.follows is not None else " (off)"
            )

        out.append(f"Secondary ID is {sid(found)}, calibration recorded {sid(expected)}")
    if mode and found.operating_mode != expected.operating_mode:
        out.append(
            f"Operating Mode is {ct.mode_name(found.operating_mode)}, "
            f"calibration recorded {ct.mode_name(expected.operating_mode)}"
        )
    return out
