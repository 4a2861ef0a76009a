"""Frame codec: COBS + CRC-16/CCITT-FALSE, and the resynchronizing incremental decoder."""
import binascii

from hypothesis import given, settings
from hypothesis import strategies as st

from kei.hil.errors import FrameError
from kei.hil.wire.framing import MAX_BODY, FrameDecoder, cobs_decode, cobs_encode, crc16, decode_frame, encode_frame

bodies = st.binary(min_size=3, max_size=MAX_BODY - 2)


def feed_in_chunks(decoder, data, cuts):
    out, pos = [], 0
    for cut in sorted(c % (len(data) + 1) for c in cuts) + [len(data)]:
        out += decoder.feed(data[pos:cut] if cut >= pos else b"")
        pos = max(pos, cut)
    return out


def test_crc_check_value():
    # The catalogue check value of CRC-16/CCITT-FALSE, computed bitwise here (not via crc_hqx).
    crc = 0xFFFF
    for byte in b"123456789":
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    assert crc == 0x29B1
    assert crc16(b"123456789") == 0x29B1


def test_cobs_known_vectors():
    # Examples from Cheshire & Baker (and the Wikipedia COBS article).
    assert cobs_encode(b"\x00") == b"\x01\x01"
    assert cobs_encode(b"\x00\x00") == b"\x01\x01\x01"
    assert cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert cobs_encode(b"\x11\x00\x00\x00") == b"\x02\x11\x01\x01\x01"
    block = bytes(range(1, 255))
    assert cobs_encode(block)[:255] == b"\xff" + block
    assert cobs_decode(b"\x03\x11\x22\x02\x33") == b"\x11\x22\x00\x33"


@given(st.binary(max_size=1200))
def test_cobs_round_trip_has_no_zero(data):
    enc = cobs_encode(data)
    assert 0 not in enc
    assert cobs_decode(enc) == data


def test_frame_layout():
    frame = encode_frame(b"\x06\x34\x12")  # STOP, seq 0x1234
    assert frame.endswith(b"\x00") and frame.count(0) == 1
    raw = cobs_decode(frame[:-1])
    assert raw[:3] == b"\x06\x34\x12"
    assert int.from_bytes(raw[3:], "little") == binascii.crc_hqx(b"\x06\x34\x12", 0xFFFF)


@given(st.lists(bodies, max_size=8), st.lists(st.integers(0, 5000), max_size=6))
def test_frames_split_anywhere_are_recovered(frames, cuts):
    dec = FrameDecoder()
    wire = b"".join(encode_frame(b) for b in frames)
    assert feed_in_chunks(dec, wire, cuts) == frames
    assert dec.error_count == 0 and dec.frames_ok == len(frames)


@settings(max_examples=300)
@given(st.binary(max_size=600), st.lists(st.integers(0, 5000), max_size=6))
def test_arbitrary_bytes_never_raise_anything_but_frame_error(data, cuts):
    dec = FrameDecoder()
    try:
        for body in feed_in_chunks(dec, data, cuts):
            assert MAX_BODY - 2 >= len(body) >= 3
    except FrameError:
        pass
    assert dec.buffered <= MAX_BODY + 1
    for err in dec.pop_errors():
        assert isinstance(err, FrameError) and err.kind in dec.errors


@settings(max_examples=300)
@given(st.binary(max_size=600), st.lists(bodies, min_size=1, max_size=6), st.lists(st.integers(0, 5000), max_size=6))
def test_every_valid_frame_after_garbage_and_a_zero_is_recovered(garbage, frames, cuts):
    dec = FrameDecoder()
    wire = garbage + b"\x00" + b"".join(encode_frame(b) for b in frames)
    got = feed_in_chunks(dec, wire, cuts)
    # Garbage may by chance hold a valid frame of its own; the real ones are the tail, in order.
    assert got[len(got) - len(frames):] == frames
    assert dec.buffered == 0


def test_every_single_bit_flip_is_rejected():
    frame = encode_frame(bytes.fromhex("0407000000803f01000020c1"))  # a STEP
    for bit in range(8 * (len(frame) - 1)):
        bad = bytearray(frame)
        bad[bit // 8] ^= 1 << (bit % 8)
        dec = FrameDecoder()
        assert dec.feed(b"\x00" + bytes(bad) + b"\x00") == [], f"bit {bit} flipped, frame accepted"
        assert dec.error_count >= 1


def test_error_kinds_are_counted_and_named():
    dec = FrameDecoder()
    good = encode_frame(b"\x01\x01\x00")
    crc_bad = bytearray(good)
    crc_bad[2] ^= 0x40
    short = cobs_encode(b"\x01\x02\x03\x04") + b"\x00"
    cobs_bad = b"\x05\x01\x02\x00"
    out = dec.feed(bytes(crc_bad) + short + cobs_bad + b"\x00\x00" + good)
    assert out == [b"\x01\x01\x00"]
    assert dec.errors == {"cobs": 1, "crc": 1, "short": 1, "oversize": 0}
    errs = dec.pop_errors()
    assert [(e.index, e.kind) for e in errs] == [(1, "crc"), (2, "short"), (3, "cobs")]
    assert str(errs[0]).startswith("frame 1: bad frame (crc)")
    assert dec.pop_errors() == []


def test_oversize_run_is_bounded_counted_once_and_resynchronized():
    dec = FrameDecoder()
    good = encode_frame(b"\x07\x09\x00")
    assert dec.feed(b"\x55" * 100) == []
    assert dec.feed(b"\x55" * 5000) == []
    assert dec.buffered <= MAX_BODY + 1
    assert dec.feed(b"\x55" * 10 + b"\x00" + good) == [b"\x07\x09\x00"]
    assert dec.errors["oversize"] == 1
    # An oversize run that arrives in one piece counts the same way.
    assert dec.feed(b"\x66" * 400 + b"\x00" + good) == [b"\x07\x09\x00"]
    assert dec.errors["oversize"] == 2


def test_largest_body_passes_and_one_more_byte_does_not():
    body = bytes(range(1, MAX_BODY - 1))  # + 2 CRC bytes = MAX_BODY
    assert decode_frame(encode_frame(body)[:-1]) == body
    dec = FrameDecoder()
    assert dec.feed(encode_frame(body + b"\x01")) == []
    assert dec.errors["oversize"] == 1
