"""The Dynamixel X-series control table (Protocol 2.0) as data: one fact, one place.

Both the bus driver and the emulator read addresses, sizes, access and value ranges from here.
Addresses follow the ROBOTIS e-manual for the X series (firmware 45+); the models differ only in
model number, a few ranges, the current sensor (XL430-W250 has none: address 126 is Present Load)
and which operating modes they accept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

TICKS_PER_REV = 4096  # position resolution of every X-series motor
RAD_PER_TICK = 2 * math.pi / TICKS_PER_REV
CENTER_TICK = 2048  # the middle of the 0..4095 single-turn range
VELOCITY_UNIT_RPM = 0.229  # one Present/Goal Velocity step
RAD_S_PER_VELOCITY_UNIT = VELOCITY_UNIT_RPM * 2 * math.pi / 60
RETURN_DELAY_UNIT_S = 2e-6  # one Return Delay Time step
EEPROM_END = 64  # addresses below are EEPROM: writable only while torque is off
# In Position Control Mode the firmware applies a Homing Offset only within +-1024 ticks (a quarter
# turn); a larger stored offset is ignored, so positions would be off by the whole offset.
HOMING_OFFSET_LIMIT_POSITION = 1024
DRIVE_MODE_REVERSE = 0x01  # Drive Mode bit 0: positive direction is clockwise
SECONDARY_ID_NONE = 255  # Secondary ID values 253..255 disable it
HW_ERROR_OVERLOAD = 0x20  # Hardware Error Status bit 5

# Operating Mode (address 11) values.
MODE_CURRENT = 0
MODE_VELOCITY = 1
MODE_POSITION = 3
MODE_EXTENDED_POSITION = 4
MODE_CURRENT_POSITION = 5
MODE_PWM = 16
# The rig's `follower_mode` names (schemas.rig.OPERATING_MODES) to register values.
MODE_BY_NAME = {"position": MODE_POSITION, "current_position": MODE_CURRENT_POSITION, "pwm": MODE_PWM}

# Baud Rate (address 8) register value -> bit/s.
BAUD_BY_VALUE = {
    0: 9_600,
    1: 57_600,
    2: 115_200,
    3: 1_000_000,
    4: 2_000_000,
    5: 3_000_000,
    6: 4_000_000,
    7: 4_500_000,
}
BAUD_VALUE = {bps: value for value, bps in BAUD_BY_VALUE.items()}

# Protocol 2.0 status error numbers (low 7 bits of the error byte) and the alert bit.
ERR_RESULT_FAIL = 1
ERR_INSTRUCTION = 2
ERR_CRC = 3
ERR_DATA_RANGE = 4
ERR_DATA_LENGTH = 5
ERR_DATA_LIMIT = 6
ERR_ACCESS = 7
ERR_ALERT = 0x80


@dataclass(frozen=True)
class Register:
    """One control-table item; `lo`..`hi` is the accepted write range (signed where lo < 0)."""

    name: str
    address: int
    size: int  # bytes, little endian
    writable: bool
    lo: int = 0
    hi: int = 0
    default: int = 0

    @property
    def signed(self) -> bool:
        return self.lo < 0


def _r(name: str, address: int, size: int, default: int = 0) -> Register:
    return Register(name, address, size, False, default=default)


def _rw(name: str, address: int, size: int, lo: int, hi: int, default: int = 0) -> Register:
    return Register(name, address, size, True, lo, hi, default)


_BASE: tuple[Register, ...] = (
    _r("model_number", 0, 2),
    _r("model_information", 2, 4),
    _r("firmware_version", 6, 1, 52),
    _rw("id", 7, 1, 0, 252, 1),
    _rw("baud_rate", 8, 1, 0, 7, 1),
    _rw("return_delay_time", 9, 1, 0, 254, 250),
    _rw("drive_mode", 10, 1, 0, 13),
    _rw("operating_mode", 11, 1, 0, 16, MODE_POSITION),
    _rw("secondary_id", 12, 1, 0, 255, 255),
    _rw("protocol_type", 13, 1, 1, 2, 2),
    _rw("homing_offset", 20, 4, -1_044_479, 1_044_479),
    _rw("moving_threshold", 24, 4, 0, 1023, 10),
    _rw("temperature_limit", 31, 1, 0, 100, 80),
    _rw("max_voltage_limit", 32, 2, 60, 160, 160),
    _rw("min_voltage_limit", 34, 2, 60, 160, 60),
    _rw("pwm_limit", 36, 2, 0, 885, 885),
    _rw("current_limit", 38, 2, 0, 1193, 1193),
    _rw("velocity_limit", 44, 4, 0, 1023, 200),
    _rw("max_position_limit", 48, 4, 0, 4095, 4095),
    _rw("min_position_limit", 52, 4, 0, 4095, 0),
    _rw("shutdown", 63, 1, 0, 255, 52),
    _rw("torque_enable", 64, 1, 0, 1),
    _rw("led", 65, 1, 0, 1),
    _rw("status_return_level", 68, 1, 0, 2, 2),
    _r("registered_instruction", 69, 1),
    _r("hardware_error_status", 70, 1),
    _rw("velocity_i_gain", 76, 2, 0, 16383, 1920),
    _rw("velocity_p_gain", 78, 2, 0, 16383, 100),
    _rw("position_d_gain", 80, 2, 0, 16383),
    _rw("position_i_gain", 82, 2, 0, 16383),
    _rw("position_p_gain", 84, 2, 0, 16383, 800),
    _rw("feedforward_2nd_gain", 88, 2, 0, 16383),
    _rw("feedforward_1st_gain", 90, 2, 0, 16383),
    _rw("bus_watchdog", 98, 1, 0, 127),
    _rw("goal_pwm", 100, 2, -885, 885),
    _rw("goal_current", 102, 2, -1193, 1193),
    _rw("goal_velocity", 104, 4, -1023, 1023),
    _rw("profile_acceleration", 108, 4, 0, 32767),
    _rw("profile_velocity", 112, 4, 0, 32767),
    _rw("goal_position", 116, 4, -1_048_575, 1_048_575),
    _r("realtime_tick", 120, 2),
    _r("moving", 122, 1),
    _r("moving_status", 123, 1),
    _r("present_pwm", 124, 2),
    _r("present_current", 126, 2),
    _r("present_velocity", 128, 4),
    _r("present_position", 132, 4),
    _r("velocity_trajectory", 136, 4),
    _r("position_trajectory", 140, 4),
    _r("present_input_voltage", 144, 2, 120),
    _r("present_temperature", 146, 1, 30),
)
TABLE_SIZE = 147  # bytes of the emulated image; the indirect-address area (168+) is not modelled

# The recorder's one sync read: present current, velocity and position are contiguous.
STATE_ADDRESS = 126
STATE_SIZE = 10
# About once a second the same sync read runs on to Present Input Voltage (144) and Temperature (146).
HEALTH_SIZE = 147 - STATE_ADDRESS
DRIVE_MODE_TIME_PROFILE = 0x04  # Drive Mode bit 2: Profile Velocity is a time, not a speed


@dataclass(frozen=True)
class Model:
    """A motor model: number, control table and the units of its present-state registers."""

    name: str  # lowercase, as written in rigs: "xm430-w350"
    number: int
    registers: dict[str, Register] = field(repr=False)
    modes: tuple[int, ...]
    current_unit_ma: float | None  # None: no current sensor; address 126 is Present Load
    no_load_rad_s: float  # no-load speed at the rated voltage (e-manual spec table)
    load_unit_percent: float = 0.1  # Present Load step (XL430-W250)

    def register(self, name: str) -> Register:
        return self.registers[name]

    def effort_scale(self) -> float:
        """Raw address-126 value to effort: mA with a current sensor, else percent of max load."""
        return self.current_unit_ma if self.current_unit_ma is not None else self.load_unit_percent


def _model(
    name: str,
    number: int,
    current_unit_ma: float | None,
    modes: tuple[int, ...],
    no_load_rpm: float,
    **overrides: tuple[int, int, int],
) -> Model:
    regs = {r.name: r for r in _BASE}
    for reg_name, (lo, hi, default) in overrides.items():
        r = regs[reg_name]
        regs[reg_name] = Register(r.name, r.address, r.size, r.writable, lo, hi, default)
    if current_unit_ma is None:  # XL430: no current control, 126 reports load
        for missing in ("current_limit", "goal_current"):
            del regs[missing]
        regs["present_load"] = _r("present_load", 126, 2)
        del regs["present_current"]
    return Model(name, number, regs, modes, current_unit_ma, no_load_rpm * 2 * math.pi / 60)


_ALL_MODES = (
    MODE_CURRENT,
    MODE_VELOCITY,
    MODE_POSITION,
    MODE_EXTENDED_POSITION,
    MODE_CURRENT_POSITION,
    MODE_PWM,
)
MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        _model(
            "xl330-m077",
            1190,
            1.0,
            _ALL_MODES,
            383.0,  # at 5 V
            current_limit=(0, 1750, 1750),
            goal_current=(-1750, 1750, 0),
            max_voltage_limit=(31, 70, 70),
            min_voltage_limit=(31, 70, 35),
        ),
        _model(
            "xl330-m288",
            1200,
            1.0,
            _ALL_MODES,
            104.0,  # at 5 V
            current_limit=(0, 1750, 1750),
            goal_current=(-1750, 1750, 0),
            max_voltage_limit=(31, 70, 70),
            min_voltage_limit=(31, 70, 35),
        ),
        _model(
            "xl430-w250",
            1060,
            None,
            (MODE_VELOCITY, MODE_POSITION, MODE_EXTENDED_POSITION, MODE_PWM),
            57.0,  # at 12 V
            max_voltage_limit=(60, 140, 140),
        ),
        _model("xm430-w350", 1020, 2.69, _ALL_MODES, 46.0),  # at 12 V
        _model(
            "xm540-w270",
            1120,
            2.69,
            _ALL_MODES,
            30.0,  # at 12 V: 3.1 rad/s
            current_limit=(0, 2047, 2047),
            goal_current=(-2047, 2047, 0),
        ),
    )
}
MODEL_BY_NUMBER = {m.number: m for m in MODELS.values()}


def model(name: str) -> Model:
    """The model called `name` (case-insensitive); KeyError lists the known ones."""
    try:
        return MODELS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown Dynamixel model {name!r}; known: {', '.join(MODELS)}") from None


def model_name(number: int) -> str:
    """A model number as a name ("xm430-w350"), or "model <n>" for one not in this table."""
    m = MODEL_BY_NUMBER.get(number)
    return m.name if m else f"model {number}"


MODE_NAMES = {
    MODE_CURRENT: "current",
    MODE_VELOCITY: "velocity",
    MODE_POSITION: "position",
    MODE_EXTENDED_POSITION: "extended_position",
    MODE_CURRENT_POSITION: "current_position",
    MODE_PWM: "pwm",
}


def mode_name(value: int) -> str:
    return MODE_NAMES.get(value, f"mode {value}")


def to_signed(value: int, size: int) -> int:
    """A little-endian register value read as two's complement."""
    bits = 8 * size
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def to_unsigned(value: int, size: int) -> int:
    """A (possibly negative) value as the unsigned integer written to a `size`-byte register."""
    return value & ((1 << (8 * size)) - 1)
