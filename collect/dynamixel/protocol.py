"""Dynamixel Protocol 2.0 packets: encoding, CRC-16, byte stuffing and a robust stream parser.

Used by the emulator (the real bus goes through dynamixel-sdk). A packet on the wire is::

    FF FF FD 00 | id | len_lo len_hi | instruction | params (stuffed) | crc_lo crc_hi

`len` counts the stuffed instruction + params + the 2 CRC bytes. Stuffing inserts an extra FD after
every FF FF FD inside instruction + params so the header never appears in a packet's body.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = b"\xff\xff\xfd\x00"
BROADCAST_ID = 0xFE
MAX_LENGTH = 1024  # the SDK refuses longer packets; a larger length field means a false header

# Instructions.
PING = 0x01
READ = 0x02
WRITE = 0x03
REG_WRITE = 0x04
ACTION = 0x05
REBOOT = 0x08
STATUS = 0x55
SYNC_READ = 0x82
SYNC_WRITE = 0x83
BULK_READ = 0x92


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _crc_table()  # the table printed in the ROBOTIS SDKs (poly 0x8005, no reflection)


def crc16(data: bytes | bytearray, crc: int = 0) -> int:
    """The Protocol 2.0 CRC-16 of `data`."""
    table = _CRC_TABLE
    for b in data:
        crc = ((crc << 8) ^ table[((crc >> 8) ^ b) & 0xFF]) & 0xFFFF
    return crc


def stuff(body: bytes) -> bytes:
    """Insert FD after every FF FF FD in `body` (instruction + params)."""
    if b"\xff\xff\xfd" not in body:
        return body
    out = bytearray()
    for i, b in enumerate(body):
        out.append(b)
        if b == 0xFD and i >= 2 and body[i - 1] == 0xFF and body[i - 2] == 0xFF:
            out.append(0xFD)
    return bytes(out)


def unstuff(body: bytes) -> bytes:
    """Undo `stuff`: FF FF FD FD becomes FF FF FD."""
    if b"\xff\xff\xfd\xfd" not in body:
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        b = body[i]
        out.append(b)
        if b == 0xFD and 2 <= i < len(body) - 1 and body[i - 2 : i + 2] == b"\xff\xff\xfd\xfd":
            i += 1  # drop the stuffed FD
        i += 1
    return bytes(out)


@dataclass(frozen=True)
class Packet:
    """One instruction or status packet; for a status packet `params[0]` is the error byte."""

    id: int
    instruction: int
    params: bytes = b""

    @property
    def error(self) -> int:
        return self.params[0] if self.instruction == STATUS and self.params else 0

    @property
    def data(self) -> bytes:
        """A status packet's data (after the error byte)."""
        return self.params[1:] if self.instruction == STATUS else self.params


def encode(packet: Packet) -> bytes:
    """The packet's bytes on the wire."""
    body = stuff(bytes([packet.instruction]) + packet.params)
    length = len(body) + 2
    head = HEADER + bytes([packet.id, length & 0xFF, length >> 8])
    crc = crc16(head + body)
    return head + body + bytes([crc & 0xFF, crc >> 8])


def status(motor_id: int, error: int = 0, data: bytes = b"") -> bytes:
    """An encoded status packet."""
    return encode(Packet(motor_id, STATUS, bytes([error]) + data))


class PacketParser:
    """Turns a byte stream into packets; skips garbage, waits for partial packets, drops bad CRCs.

    `feed` never raises on any input and always consumes or keeps a bounded amount of bytes:
    at most one packet's worth (7 + MAX_LENGTH) is kept waiting for its end.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped_bytes = 0  # garbage between packets
        self.bad_crc = 0

    def feed(self, data: bytes) -> list[Packet]:
        """Add received bytes; return the complete, valid packets now available."""
        buf = self._buf
        buf += data
        out: list[Packet] = []
        while True:
            start = buf.find(HEADER)
            if start < 0:
                keep = (
                    3 if buf[-3:] == HEADER[:3] else 2 if buf[-2:] == HEADER[:2] else int(buf[-1:] == b"\xff")
                )
                self.skipped_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                return out
            if start:
                self.skipped_bytes += start
                del buf[:start]
            if len(buf) < 7:
                return out
            length = buf[5] | buf[6] << 8
            if length < 3 or length > MAX_LENGTH:  # a false header: resynchronise after it
                self.skipped_bytes += 1
                del buf[:1]
                continue
            total = 7 + length
            if len(buf) < total:
                return out
            crc = buf[total - 2] | buf[total - 1] << 8
            if crc16(buf[: total - 2]) != crc:
                self.bad_crc += 1
                del buf[:1]
                continue
            body = unstuff(bytes(buf[7 : total - 2]))
            out.append(Packet(buf[4], body[0], body[1:]))
            del buf[:total]

    def reset(self) -> None:
        """Forget a partial packet (after a line break or a client reconnect)."""
        self._buf.clear()
