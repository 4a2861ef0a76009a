"""Messages <-> bodies: sizes and offsets of protocol.md section 4, round trips, decode errors."""
import math
import re
import struct
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kei.hil.errors import ProtocolError
from kei.hil.wire.framing import FrameDecoder
from kei.hil.wire.protocol import (
    MESSAGES,
    Ack,
    Configure,
    Fault,
    FaultFlag,
    Hello,
    HelloAck,
    MessageError,
    MsgType,
    Nack,
    NackReason,
    OcvTable,
    Reset,
    Status,
    Step,
    Stop,
    Telemetry,
    decode,
)

# Payload sizes as tabled in docs/protocol.md section 4.
DOC_SIZES = {0x01: 0, 0x02: 128, 0x03: 44, 0x04: 9, 0x05: 1, 0x06: 0, 0x07: 0,
             0x81: 22, 0x82: 2, 0x83: 4, 0x84: 52, 0x85: 7}

f32 = st.floats(width=32, allow_nan=False)
u8, u16, u32 = st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)


def strategy_for(cls):
    """Every field of a message class from its wire format (so the test does not restate the layout)."""
    codes = cls.PAYLOAD.format.lstrip("<")
    expanded = []
    for count, code in re.findall(r"(\d*)([a-zA-Z])", codes):
        expanded += [code] * int(count or 1) if code != "s" else [code]
    by_code = {"B": u8, "H": u16, "I": u32, "f": f32, "s": st.text("abcdefkei-py", max_size=6)}
    if cls is OcvTable:
        return st.builds(OcvTable, u16, u8, st.lists(u16, min_size=21, max_size=21).map(tuple), u8)
    return st.builds(cls, u16, *[by_code[c] for c in expanded])


def test_payload_sizes_match_the_document():
    assert {int(t): cls.PAYLOAD.size for t, cls in MESSAGES.items()} == DOC_SIZES
    assert set(MESSAGES) == set(MsgType)


@pytest.mark.parametrize("cls", list(MESSAGES.values()), ids=lambda c: c.__name__)
@given(data=st.data())
def test_round_trip_every_message(cls, data):
    msg = data.draw(strategy_for(cls))
    body = msg.encode()
    assert body[0] == cls.TYPE and len(body) == 3 + DOC_SIZES[cls.TYPE]
    assert decode(body) == msg
    assert FrameDecoder().feed(msg.frame()) == [body]


def test_step_known_bytes():
    body = Step(seq=0x0102, dt_s=1.0, mode=1, demand=-2.0).encode()
    assert body == bytes.fromhex("04 0201 0000803f 01 000000c0")


def test_configure_offsets():
    names = [f.name for f in fields(Configure)][1:]
    values = {n: 0 for n in names}
    values.update(series=96, parallel=2, last_seq=0xBEEF, step_count=0x01020304, soc_weak_true=0.5,
                  ambient_c=25.0, capacity_ah=29.0)
    payload = Configure(seq=7, **values).encode()[3:]
    # Offsets from the CONFIGURE table of protocol.md.
    assert struct.unpack_from("<HH", payload, 0) == (96, 2)
    assert struct.unpack_from("<f", payload, 6) == (29.0,)
    assert struct.unpack_from("<f", payload, 66) == (25.0,)
    assert struct.unpack_from("<H", payload, 118) == (0xBEEF,)
    assert struct.unpack_from("<I", payload, 120) == (0x01020304,)
    assert struct.unpack_from("<f", payload, 124) == (0.5,)


def test_telemetry_offsets_and_nan():
    t = Telemetry(9, 5, 350.5, 10.0, 0.5, math.nan, 3.5, 3.75, 25.0, 100.0, 50.0, 12.5, math.nan,
                  FaultFlag.EMPTY | FaultFlag.UNDERVOLTAGE, 0)
    payload = t.encode()[3:]
    assert struct.unpack_from("<f", payload, 4) == (350.5,)
    assert struct.unpack_from("<HBB", payload, 48) == (0x21, 0, 0)
    back = decode(t.encode())
    assert math.isnan(back.soc_true) and back.energy_out_wh == 12.5


def test_hello_ack_firmware_is_zero_padded():
    payload = HelloAck(1, 1, 0, 0xDEADBEEF, 16, 1, 3, 4, 255, "kei").encode()[3:]
    assert payload[16:] == b"kei\x00\x00\x00"
    assert struct.unpack_from("<I", payload, 2) == (0xDEADBEEF,)


def test_unknown_type_and_bad_length_name_the_nack_reason():
    with pytest.raises(MessageError) as err:
        decode(bytes([0x42, 5, 0]))
    assert err.value.reason == NackReason.UNKNOWN_TYPE and err.value.msg_type == 0x42 and err.value.seq == 5
    with pytest.raises(MessageError) as err:
        decode(Step(3, 1.0, 0, 5.0).encode() + b"\x00")
    assert err.value.reason == NackReason.BAD_LENGTH and err.value.msg_type == MsgType.STEP and err.value.seq == 3
    with pytest.raises(MessageError) as err:
        decode(b"\x04")
    assert err.value.reason == NackReason.BAD_LENGTH


@pytest.mark.parametrize("msg", [Step(70000, 1.0, 0, 1.0), Step(1, 1e39, 0, 1.0), Nack(1, 4, 300, 0),
                                 OcvTable(1, 0, (3000,) * 20)])
def test_unencodable_values_raise_protocol_error(msg):
    with pytest.raises(ProtocolError):
        msg.encode()


def test_messages_are_frozen_and_compare_with_enums():
    ack = Ack(4, MsgType.STOP)
    with pytest.raises(AttributeError):
        ack.seq = 5
    assert decode(ack.encode()).acked_type == MsgType.STOP
    assert decode(Reset(1).encode()).what == 0
    assert [type(decode(m.encode())) for m in (Hello(1), Stop(2), Status(3))] == [Hello, Stop, Status]
    assert decode(Fault(2, FaultFlag.OVERTEMPERATURE, 255, 61.0).encode()).fault == FaultFlag.OVERTEMPERATURE
