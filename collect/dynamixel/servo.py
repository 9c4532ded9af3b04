"""One emulated X-series servo: its control-table memory image, the firmware's write checks, physics.

A `Servo` is a control-table memory image plus simple physics: with torque on in a position mode
the present position approaches the goal with a first-order lag; with torque off it stays where it
is, unless a `driver` (the scripted operator moving a leader arm) sets it as a function of time.
What the safety checks depend on is modelled as the e-manual describes it:

- Drive Mode bit 0 (reverse) mirrors present and goal position (tick 2048 stays 2048).
- Homing Offset is added to the present position; in Position Control Mode an offset beyond
  +-1024 is ignored. Torque off, the present position is continuous (multi-turn); torque on in
  Position Control Mode snaps it back into 0..4095.
- Goals outside Min/Max Position Limit are refused in Position Control Mode (a sync write has no
  reply, so the refusal is silent).
- In Current-based Position Control Mode the current is capped by Goal Current and Current Limit.
  A motor held at a high current (a gripper squeezing an object, two motors fighting) for
  `OVERLOAD_S` trips its overload error and turns torque off.
- `stops` is the mechanical travel left to a motor (an object between the gripper fingers, an
  obstacle in an arm's way). Pushing against one, the current keeps rising (`PUSH_RISE_PER_S`, as a
  position controller's integral and saturating PWM do) up to the motor's cap.
- Profile Velocity (112, units of 0.229 rev/min; 0 = none) caps the speed in the position modes.
- Temperature rises with the square of the current and cools toward `AMBIENT_C`; past the Temperature
  Limit (31) the overheating error turns torque off (Hardware Error Status bit 2).

The motors of one bus, answering instruction packets, are a `servo_chain.ServoChain`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from demoforge.collect.dynamixel import control_table as ct

TAU_S = 0.03  # time constant of the position response: a real XM430 settles a small step in ~0.1 s
CURRENT_PER_TICK = 2.0  # raw current units per tick of position error (a stiff P controller)
OVERLOAD_FRACTION = 0.8  # of the model's maximum current, held for OVERLOAD_S, trips the overload error
OVERLOAD_S = 1.0
RELEASE_BLEND_S = 0.2  # a released (scripted) leader glides back onto its path over this long
PUSH_RISE_PER_S = 1.0  # against a stop, current rises by this fraction of the model's maximum per second
AMBIENT_C = 30.0
HEAT_C_PER_S = 1.0  # °C/s at the model's maximum current (scales with the current squared)
COOL_TAU_S = 300.0  # s: time constant of cooling toward ambient
HW_ERROR_OVERHEATING = 0x04  # Hardware Error Status bit 2
TICKS_PER_S_PER_VELOCITY_UNIT = ct.VELOCITY_UNIT_RPM / 60 * ct.TICKS_PER_REV

_POSITION_MODES = (ct.MODE_POSITION, ct.MODE_EXTENDED_POSITION, ct.MODE_CURRENT_POSITION)


def _affects_config(address: int, size: int) -> bool:
    """A write touching the EEPROM area, Torque Enable, Goal Current or Profile Velocity changes
    `Servo._config`."""
    return (
        address < ct.EEPROM_END + 1
        or (address < 104 and address + size > 102)
        or (address < 116 and address + size > 112)
    )


class Servo:
    """One motor: memory image, physics, register reads and writes with the firmware's checks."""

    def __init__(self, model: ct.Model, motor_id: int, position: float = ct.CENTER_TICK) -> None:
        self.model = model
        self._cfg: tuple[int, bool, int, int, float] | None = None
        self.mem = bytearray(ct.TABLE_SIZE)
        for reg in model.registers.values():
            self._put(reg, reg.default)
        self._put(model.register("model_number"), model.number)
        self._put(model.register("id"), motor_id)
        self.position = float(position)  # mechanical ticks (continuous), before drive mode and offset
        self._put(model.register("goal_position"), round(position))
        self.driver: Callable[[float], float] | None = None  # t -> mechanical ticks (torque-off arm)
        self.stops: tuple[float, float] = (-math.inf, math.inf)  # mechanical travel left to the motor
        self.registered: tuple[int, bytes] | None = None  # REG_WRITE waiting for ACTION
        self._t: float | None = None
        self._overloaded_since: float | None = None
        self._released: tuple[float, float] | None = None  # (time, offset) when a driven arm was let go
        self._before = self.position
        self._dt = 0.0
        self._push = 0.0  # current built up pushing against a stop (raw units)
        self.temperature = float(self.get("present_temperature") or AMBIENT_C)

    @property
    def id(self) -> int:
        return self.mem[7]

    def get(self, name: str) -> int:
        reg = self.model.register(name)
        raw = int.from_bytes(self.mem[reg.address : reg.address + reg.size], "little")
        return ct.to_signed(raw, reg.size) if reg.signed or name.startswith("present_") else raw

    def _put(self, reg: ct.Register, value: int) -> None:
        self.mem[reg.address : reg.address + reg.size] = ct.to_unsigned(int(value), reg.size).to_bytes(
            reg.size, "little"
        )

    def set(self, name: str, value: int) -> None:
        """Set a register directly (the emulator's own state, bypassing the write checks)."""
        reg = self.model.register(name)
        self._put(reg, value)
        if name == "present_temperature":  # a motor already warm (the physics carries on from there)
            self.temperature = float(value)
        if _affects_config(reg.address, reg.size):
            self._cfg = None

    def _config(self) -> tuple[int, bool, int, int, float]:
        """(operating mode, reversed, applied homing offset, current cap, most ticks/s (inf: no profile)),
        cached between the writes that change them: the physics reads them for every motor on every
        packet."""
        if self._cfg is None:
            mode = self.get("operating_mode")
            off = self.get("homing_offset")
            if mode == ct.MODE_POSITION and abs(off) > ct.HOMING_OFFSET_LIMIT_POSITION:
                off = 0
            top = self.model.register("goal_current").hi if self.model.current_unit_ma is not None else 1000
            cap = top
            if mode == ct.MODE_CURRENT_POSITION and self.model.current_unit_ma is not None:
                cap = min(top, self.get("current_limit"), abs(self.get("goal_current")))
            pv = self.get("profile_velocity")
            speed = pv * TICKS_PER_S_PER_VELOCITY_UNIT if pv > 0 and mode in _POSITION_MODES else math.inf
            self._cfg = (mode, bool(self.get("drive_mode") & ct.DRIVE_MODE_REVERSE), off, cap, speed)
        return self._cfg

    # --- frames: mechanical ticks <-> register values ---------------------------------------------
    def offset(self) -> int:
        """The Homing Offset the firmware applies (Position Control Mode ignores one beyond +-1024)."""
        return self._config()[2]

    def reversed(self) -> bool:
        return self._config()[1]

    def to_register(self, mechanical: float) -> float:
        _, rev, off, _, _ = self._config()
        return (ct.TICKS_PER_REV - mechanical if rev else mechanical) + off

    def to_mechanical(self, register: float) -> float:
        _, rev, off, _, _ = self._config()
        v = register - off
        return ct.TICKS_PER_REV - v if rev else v

    # --- physics -----------------------------------------------------------------------------------
    def current_cap(self) -> int:
        """The most current (raw units) the motor will draw in its operating mode."""
        return self._config()[3]

    def advance(self, now: float) -> None:
        """Bring the position up to time `now` (present registers: `publish`)."""
        dt = 0.0 if self._t is None else max(0.0, now - self._t)
        self._t = now
        self._before = self.position
        mode = self._config()[0]
        torque = self.mem[64] == 1
        if self.driver is not None and not torque:
            target = self.driver(now)
            if self._released is not None:  # the person takes over from where the motors left the arm
                t_rel, off = self._released
                progress = min(1.0, (now - t_rel) / RELEASE_BLEND_S)
                target += off * 0.5 * (1.0 + math.cos(math.pi * progress))
                if progress >= 1.0:
                    self._released = None
            self.position = target
        elif torque and mode in _POSITION_MODES:
            goal = self.to_mechanical(self.get("goal_position"))
            step = (goal - self.position) * (1.0 - math.exp(-dt / TAU_S))
            most = self._config()[4] * dt  # Profile Velocity
            wanted = self.position + min(max(step, -most), most)
            self.position = min(max(wanted, self.stops[0]), self.stops[1])
        elif torque and mode == ct.MODE_VELOCITY:
            self.position += self.get("goal_velocity") * ct.VELOCITY_UNIT_RPM / 60 * ct.TICKS_PER_REV * dt
        self._dt = dt

    def publish(self, now: float) -> None:
        """Present current, velocity and position from the position reached; overload detection."""
        dt = self._dt
        velocity = (self.position - self._before) / dt if dt > 0 else 0.0  # ticks/s
        reg126 = "present_current" if self.model.current_unit_ma is not None else "present_load"
        cap = self.current_cap()
        sign = -1 if self.reversed() else 1
        error = 0.0  # ticks between goal and position: what the controller pushes against
        top = self.model.register("goal_current").hi if self.model.current_unit_ma is not None else 1000
        if self.mem[64] and self._config()[0] in _POSITION_MODES:
            error = self.to_mechanical(self.get("goal_position")) - self.position
        lo, hi = self.stops
        if self.mem[64] and ((self.position >= hi and error > 0) or (self.position <= lo and error < 0)):
            self._push = min(float(cap), self._push + PUSH_RISE_PER_S * top * dt)  # against a stop
        else:
            self._push = 0.0
        drive = error * CURRENT_PER_TICK + math.copysign(self._push, error)
        current = max(-cap, min(cap, round(sign * drive)))
        self._put(self.model.register(reg126), current)
        self._heat(current / top, dt)
        if abs(current) >= OVERLOAD_FRACTION * top and self.mem[64]:
            if self._overloaded_since is None:
                self._overloaded_since = now
            elif now - self._overloaded_since >= OVERLOAD_S:
                self.set("hardware_error_status", self.get("hardware_error_status") | ct.HW_ERROR_OVERLOAD)
                self.mem[64] = 0  # the firmware's shutdown: torque off
                self._cfg = None
        else:
            self._overloaded_since = None
        self._put(
            self.model.register("present_velocity"),
            round(sign * velocity * 60 / ct.TICKS_PER_REV / ct.VELOCITY_UNIT_RPM),
        )
        self._put(self.model.register("present_position"), round(self.to_register(self.position)))
        self.set("moving", int(abs(velocity) > 1.0))
        self.set("realtime_tick", int(now * 1000) % 32768)

    def _heat(self, load: float, dt: float) -> None:
        """Temperature from the current drawn (`load`: fraction of the maximum); the overheating
        shutdown past the Temperature Limit."""
        self.temperature += (HEAT_C_PER_S * load * load - (self.temperature - AMBIENT_C) / COOL_TAU_S) * dt
        self._put(self.model.register("present_temperature"), max(0, min(255, round(self.temperature))))
        if self.temperature > self.get("temperature_limit") and self.mem[64]:
            self.set("hardware_error_status", self.get("hardware_error_status") | HW_ERROR_OVERHEATING)
            self.mem[64] = 0  # the firmware's shutdown: torque off
            self._cfg = None

    def _torque_changed(self, on: bool, now: float | None) -> None:
        if on and self.get("operating_mode") == ct.MODE_POSITION:
            # Position Control Mode keeps one turn: the continuous count snaps back into 0..4095.
            turns = math.floor(self.to_register(self.position) / ct.TICKS_PER_REV)
            self.position += (1 if self.reversed() else -1) * turns * ct.TICKS_PER_REV
        if not on and self.driver is not None and now is not None:
            self._released = (now, self.position - self.driver(now))

    # --- register access ---------------------------------------------------------------------------
    def read(self, address: int, length: int) -> tuple[int, bytes]:
        """(error, data) for a READ of `length` bytes at `address`."""
        if length < 1 or address + length > ct.TABLE_SIZE:
            return ct.ERR_ACCESS, b""
        return 0, bytes(self.mem[address : address + length])

    def check_write(self, address: int, data: bytes) -> int:
        """The error a WRITE would get (0 = accepted), checked as the firmware does, before applying."""
        end = address + len(data)
        covered = 0
        for reg in self.model.registers.values():
            if reg.address >= end or reg.address + reg.size <= address:
                continue
            if not reg.writable or (reg.address < ct.EEPROM_END and self.mem[64]):
                return ct.ERR_ACCESS  # read-only, or EEPROM while torque is on
            if reg.address < address or reg.address + reg.size > end:
                return ct.ERR_DATA_LENGTH  # a multi-byte item written in part
            raw = int.from_bytes(data[reg.address - address : reg.address - address + reg.size], "little")
            value = ct.to_signed(raw, reg.size) if reg.signed else raw
            if not reg.lo <= value <= reg.hi:
                return ct.ERR_DATA_RANGE
            if reg.name == "operating_mode" and value not in self.model.modes:
                return ct.ERR_DATA_RANGE
            if (
                reg.name == "goal_position"
                and self.get("operating_mode") == ct.MODE_POSITION
                and not self.get("min_position_limit") <= value <= self.get("max_position_limit")
            ):
                return ct.ERR_DATA_LIMIT  # firmware refuses goals outside the position limits
            covered += reg.size
        return 0 if covered == len(data) else ct.ERR_ACCESS  # reserved bytes are not writable

    def write(self, address: int, data: bytes, now: float | None = None) -> int:
        """Apply a WRITE if it passes the checks; returns the status error."""
        error = self.check_write(address, data)
        if not error:
            torque = self.mem[64]
            self.mem[address : address + len(data)] = data
            if _affects_config(address, len(data)):
                self._cfg = None
            if self.mem[64] != torque:
                self._torque_changed(bool(self.mem[64]), now)
        return error

    def reboot(self) -> None:
        """RAM back to defaults (torque off, errors cleared); EEPROM and position kept."""
        for reg in self.model.registers.values():
            if reg.address >= ct.EEPROM_END and reg.writable:
                self._put(reg, reg.default)
        self.set("hardware_error_status", 0)
        self._cfg = None
        self._overloaded_since = None
        self._torque_changed(True, None)  # power-on: the count restarts within one turn
        self._put(self.model.register("goal_position"), round(self.to_register(self.position)))
