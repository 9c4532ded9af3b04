"""The motors on one emulated bus, answering Protocol 2.0 instruction packets byte-exactly.

A `ServoChain` decodes instructions, applies them to its `Servo`s, and returns the status packets
each motor would send, with the motor's return delay and the adapter's reply latency. It also
applies writes to motors whose Secondary ID names the addressed id (without a reply from them), and
couples motors on one rigid joint (`couple`): their positions are tied, so two goals that disagree
show as current in both. Faults are per motor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel import protocol as p
from demoforge.collect.dynamixel.servo import Servo

FAULTS = ("silent", "gone", "corrupt", "latency", "overload", "short", "refuse")
# silent: processes instructions, never replies (broken TX wire); gone: unplugged, ignores everything;
# corrupt: replies with a bad CRC; latency: replies `seconds` late; overload: hardware error, torque off;
# short: a reply carrying data carries only half of it; refuse: a reply carrying data says "access
# error" and carries none (what a firmware refusing a READ sends).


@dataclass
class Fault:
    kind: str
    seconds: float = 0.0  # latency
    count: int = -1  # replies it still affects; -1 = until cleared


@dataclass(frozen=True)
class Reply:
    """A status packet and the time the motor waits before sending it (return delay + latency)."""

    delay_s: float
    data: bytes


class ServoChain:
    """The motors on one bus, answering decoded instruction packets."""

    def __init__(self, servos: list[Servo]) -> None:
        self.servos = {s.id: s for s in servos}
        self.faults: dict[int, Fault] = {}
        self.handled = 0
        self.script: Any = None  # the scripted operator moving this chain (leaders of a virtual rig)
        self.couplings: list[
            tuple[Servo, Servo, int, float]
        ] = []  # (a, b, sign, offset): b = offset + sign*a
        self.reply_latency_s = 0.0  # the USB adapter holding replies back (its latency timer)

    def couple(self, a: int, b: int, sign: int = -1) -> None:
        """Motors `a` and `b` drive one rigid joint: their positions stay tied as they are now, turning
        the same way (`sign` 1) or opposite ways (-1: a reverse-mounted shadow)."""
        sa, sb = self.servos[a], self.servos[b]
        self.couplings.append((sa, sb, sign, sb.position - sign * sa.position))

    def advance(self, now: float) -> None:
        """Every motor up to time `now`: own physics, then the rigid joints, then the present registers."""
        for servo in self.servos.values():
            servo.advance(now)
        for a, b, sign, offset in self.couplings:
            if a.driver is not None or b.driver is not None:
                continue
            ta, tb = a.mem[64] == 1, b.mem[64] == 1
            b_in_a = (b.position - offset) * sign
            joint = (a.position + b_in_a) / 2 if ta == tb else a.position if ta else b_in_a
            a.position, b.position = joint, offset + sign * joint
        for servo in self.servos.values():
            servo.publish(now)

    def inject(self, motor_id: int, fault: Fault) -> None:
        if fault.kind not in FAULTS:
            raise ValueError(f"unknown fault {fault.kind!r}; use one of {FAULTS}")
        self.faults[motor_id] = fault
        if fault.kind == "overload" and motor_id in self.servos:
            servo = self.servos[motor_id]
            servo.set("hardware_error_status", 0x20)  # bit 5: overload
            servo.set("torque_enable", 0)

    def clear(self, motor_id: int | None = None) -> None:
        for i in [motor_id] if motor_id is not None else list(self.faults):
            self.faults.pop(i, None)
            if i in self.servos:
                self.servos[i].set("hardware_error_status", 0)

    def _present(self, motor_id: int) -> Servo | None:
        f = self.faults.get(motor_id)
        return None if f is not None and f.kind == "gone" else self.servos.get(motor_id)

    def _status(
        self, servo: Servo, error: int, data: bytes = b"", level: int = 1, reply_id: int | None = None
    ) -> list[Reply]:
        """The status packet of `servo`, unless its status return level or a fault suppresses it."""
        if servo.get("status_return_level") < level:
            return []
        if servo.get("hardware_error_status"):
            error |= ct.ERR_ALERT
        fault = self.faults.get(servo.id)
        if fault is not None and fault.count != 0 and data:
            if fault.kind == "short":
                data = data[: len(data) // 2]
            elif fault.kind == "refuse":
                data, error = b"", error | ct.ERR_ACCESS
        packet = p.status(servo.id if reply_id is None else reply_id, error, data)
        delay = servo.get("return_delay_time") * ct.RETURN_DELAY_UNIT_S + self.reply_latency_s
        fault = self.faults.get(servo.id)
        if fault is not None:
            if fault.count == 0:
                self.clear(servo.id)
            else:
                if fault.count > 0:
                    fault.count -= 1
                if fault.kind == "silent":
                    return []
                if fault.kind == "corrupt":
                    packet = packet[:-1] + bytes([packet[-1] ^ 0xFF])
                if fault.kind == "latency":
                    delay += fault.seconds
        return [Reply(delay, packet)]

    def handle(self, pkt: p.Packet, now: float) -> list[Reply]:
        """Apply one instruction packet; return the status packets in the order the motors send them."""
        self.handled += 1
        self.advance(now)
        replies = self._dispatch(pkt, now)
        if any(i != s.id for i, s in self.servos.items()):  # an ID register was written
            self.servos = {s.id: s for s in self.servos.values()}
        return replies

    def _dispatch(self, pkt: p.Packet, now: float) -> list[Reply]:
        broadcast = pkt.id == p.BROADCAST_ID
        ids = sorted(self.servos) if broadcast else [pkt.id]
        targets = [s for i in ids if (s := self._present(i)) is not None]
        if not targets:
            return []
        ins, par = pkt.instruction, pkt.params
        if ins == p.PING:  # a broadcast ping is answered by every motor, in id order
            return [r for s in targets for r in self._status(s, 0, _ping_data(s), level=0)]
        if ins in (p.SYNC_READ, p.SYNC_WRITE, p.BULK_READ):
            return self._group(pkt, now) if broadcast else []
        if ins == p.ACTION:
            for s in targets:
                if s.registered:
                    s.write(*s.registered, now)
                    s.registered = None
                    s.set("registered_instruction", 0)
            return [] if broadcast else self._status(targets[0], 0, level=2)
        if broadcast:  # broadcast WRITE / REG_WRITE / REBOOT: applied by all, answered by none
            for s in targets:
                self._unicast(s, ins, par, now)
            return []
        if ins == p.WRITE:  # motors following this id by Secondary ID apply it too, silently
            for s in self._secondaries(pkt.id):
                if len(par) >= 3:
                    s.write(par[0] | par[1] << 8, bytes(par[2:]), now)
        return self._unicast(targets[0], ins, par, now)

    def _secondaries(self, motor_id: int) -> list[Servo]:
        return [
            s
            for s in self.servos.values()
            if s.id != motor_id and s.get("secondary_id") == motor_id and self._present(s.id) is not None
        ]

    def _unicast(self, s: Servo, ins: int, par: bytes, now: float) -> list[Reply]:
        if ins == p.READ:
            if len(par) != 4:
                return self._status(s, ct.ERR_DATA_LENGTH)
            error, data = s.read(par[0] | par[1] << 8, par[2] | par[3] << 8)
            return self._status(s, error, data)
        if ins in (p.WRITE, p.REG_WRITE):
            if len(par) < 3:
                return self._status(s, ct.ERR_DATA_LENGTH, level=2)
            address, data = par[0] | par[1] << 8, bytes(par[2:])
            old_id = s.id  # a write to the ID register is still answered from the old id
            if ins == p.WRITE:
                error = s.write(address, data, now)
            else:
                error = s.check_write(address, data)
                if not error:
                    s.registered = (address, data)
                    s.set("registered_instruction", 1)
            return self._status(s, error, level=2, reply_id=old_id)
        if ins == p.REBOOT:
            replies = self._status(s, 0, level=2)
            s.reboot()
            if s.id in self.faults and self.faults[s.id].kind == "overload":
                del self.faults[s.id]  # a reboot clears a hardware error
            return replies
        return self._status(s, ct.ERR_INSTRUCTION, level=2)

    def _group(self, pkt: p.Packet, now: float) -> list[Reply]:
        par = pkt.params
        if pkt.instruction == p.BULK_READ:
            if len(par) % 5:
                return []
            items = [
                (par[k], par[k + 1] | par[k + 2] << 8, par[k + 3] | par[k + 4] << 8)
                for k in range(0, len(par), 5)
            ]
            replies = []
            for motor_id, address, length in items:
                s = self._present(motor_id)
                if s is not None:
                    replies += self._status(s, *s.read(address, length))
            return replies
        if len(par) < 4:
            return []
        address, length = par[0] | par[1] << 8, par[2] | par[3] << 8
        if pkt.instruction == p.SYNC_READ:
            replies = []
            for motor_id in par[4:]:
                s = self._present(motor_id)
                if s is not None:
                    replies += self._status(s, *s.read(address, length))
            return replies
        stride = 1 + length  # SYNC_WRITE: [id, data...] per motor
        body = par[4:]
        if length == 0 or len(body) % stride:
            return []
        for k in range(0, len(body), stride):
            # In packet order: a motor following another by Secondary ID that also gets its own entry
            # applies both, and the later one wins.
            data = bytes(body[k + 1 : k + stride])
            s = self._present(body[k])
            for target in ([s] if s is not None else []) + self._secondaries(body[k]):
                target.write(address, data, now)
        return []


def _ping_data(s: Servo) -> bytes:
    return s.model.number.to_bytes(2, "little") + bytes([s.get("firmware_version")])
