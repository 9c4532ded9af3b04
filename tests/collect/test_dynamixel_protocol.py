"""Protocol 2.0 codec: CRC against the SDK, stuffing, and a parser that survives any byte stream."""

from __future__ import annotations

from dynamixel_sdk import PacketHandler
from hypothesis import given, settings
from hypothesis import strategies as st

from demoforge.collect.dynamixel import protocol as p

packets = st.builds(
    p.Packet,
    id=st.integers(0, 0xFE),
    instruction=st.integers(0, 0xFF),
    params=st.binary(max_size=64) | st.lists(st.sampled_from([0xFF, 0xFD, 0x00]), max_size=40).map(bytes),
)


def test_crc_matches_the_sdk_and_the_manual() -> None:
    # The e-manual's example: PING to id 1 is FF FF FD 00 01 03 00 01 19 4E.
    assert p.encode(p.Packet(1, p.PING)) == bytes.fromhex("FFFFFD0001030001194E")
    data = bytes(range(256)) * 2
    assert p.crc16(data) == PacketHandler(2.0).updateCRC(0, list(data), len(data))


def test_stuffing_hides_the_header() -> None:
    body = b"\x03\xff\xff\xfd\x01\xff\xff\xfd\xfd"
    stuffed = p.stuff(body)
    assert stuffed == b"\x03\xff\xff\xfd\xfd\x01\xff\xff\xfd\xfd\xfd"
    assert p.unstuff(stuffed) == body


@given(packets)
def test_stuffing_matches_the_sdk(pkt: p.Packet) -> None:
    # Compared with the SDK's transmit side; its removeStuffing works in place and misreads
    # bodies such as FF FF FD FF FD FD, so the receive side is checked by our round trips instead.
    body = bytes([pkt.instruction]) + pkt.params
    sdk = [0xFF, 0xFF, 0xFD, 0, pkt.id, (len(body) + 2) & 0xFF, (len(body) + 2) >> 8, *body, 0, 0]
    stuffed = PacketHandler(2.0).addStuffing(sdk)
    assert bytes(stuffed[7:-2]) == p.stuff(body)
    assert p.encode(pkt)[5:7] == bytes(stuffed[5:7])
    assert p.unstuff(p.stuff(body)) == body


@given(st.lists(packets, max_size=6), st.lists(st.binary(max_size=20), min_size=7, max_size=7))
def test_round_trip_through_garbage(pkts: list[p.Packet], garbage: list[bytes]) -> None:
    # Garbage without a header between packets is skipped; every packet comes out intact.
    stream = b"".join(g.replace(b"\xff", b"") + p.encode(q) for g, q in zip(garbage, pkts, strict=False))
    parser = p.PacketParser()
    out = []
    for k in range(0, len(stream), 7):  # arbitrary chunking: packets split across reads
        out += parser.feed(stream[k : k + 7])
    assert out == pkts


@settings(max_examples=300)
@given(st.binary(max_size=3000), st.integers(1, 64))
def test_arbitrary_bytes_never_crash_or_grow(data: bytes, chunk: int) -> None:
    parser = p.PacketParser()
    for k in range(0, len(data), chunk):
        for pkt in parser.feed(data[k : k + chunk]):
            assert 0 <= pkt.instruction <= 0xFF
        assert len(parser._buf) <= 7 + p.MAX_LENGTH


@given(packets, st.integers(0, 200))
def test_bad_crc_is_dropped_and_the_next_packet_found(pkt: p.Packet, flip: int) -> None:
    raw = bytearray(p.encode(pkt))
    raw[-1 - flip % 2] ^= 0xFF
    parser = p.PacketParser()
    good = p.Packet(7, p.STATUS, b"\x00\x01\x02")
    assert parser.feed(bytes(raw) + p.encode(good)) == [good]
    assert parser.bad_crc >= 1
