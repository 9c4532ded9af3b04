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

BLOCK_ADDRESS = 10  # Drive Mode .. Min Position Limit: one read of the EEPROM area
BLOCK_SIZE = 56 - BLOCK_ADDRESS


@dataclass(frozen=True)
class MotorSettings:
    drive_mode: int = 0
    operating_mode: int = ct.MODE_POSITION
    secondary_id: int = ct.SECONDARY_ID_NONE
    homing_offset: int = 0
    min_position: int = 0
    max_position: int = 4095

    @classmethod
    def from_block(cls, data: bytes) -> MotorSettings:
        """Parse the bytes of a READ of `BLOCK_SIZE` bytes at `BLOCK_ADDRESS`."""

        def field(address: int, size: int, signed: bool = False) -> int:
            raw = int.from_bytes(data[address - BLOCK_ADDRESS : address - BLOCK_ADDRESS + size], "little")
            return ct.to_signed(raw, size) if signed else raw

        return cls(
            drive_mode=field(10, 1),
            operating_mode=field(11, 1),
            secondary_id=field(12, 1),
            homing_offset=field(20, 4, signed=True),
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
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> MotorSettings:
        return cls(**{k: int(v) for k, v in doc.items() if k in cls.__dataclass_fields__})


def differences(found: MotorSettings, expected: MotorSettings, *, mode: bool = True) -> list[str]:
    """What differs, in words ("Drive Mode is 1 (reverse), calibration recorded 0 (normal)")."""
    out = []
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
