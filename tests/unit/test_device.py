"""The emulated device as bytes in -> bytes out: framing, the seq/window/cache rules, NACKs, FAULT order."""
import dataclasses
from pathlib import Path

import pytest

from kei.hil.emulator.device import MAX_SERIES, Device
from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.hil.wire.framing import FrameDecoder, cobs_encode, crc16
from kei.hil.wire.protocol import (
    WINDOW,
    Ack,
    Fault,
    FaultFlag,
    Hello,
    HelloAck,
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
from kei.vehicle.files import load_vehicle

SAKURA_PACK = Path(__file__).resolve().parents[2] / "configs" / "designs" / "sakura_pack.toml"
SETUP = pack_setup(load_vehicle(SAKURA_PACK), load_bms_config())


class Host:
    """Just enough of a host to talk to a Device object: frames out, messages back."""

    def __init__(self, device=None):
        self.device = device or Device(device_id=0x1234)
        self.decoder = FrameDecoder()

    def send(self, *msgs, raw=b""):
        out = self.device.feed(raw + b"".join(m.frame() for m in msgs))
        return [decode(b) for b in self.decoder.feed(out)]

    def configure(self, **changes):
        cfg = dataclasses.replace(SETUP.configure, **changes)
        assert self.send(SETUP.ocv_table, cfg) == [Ack(0, MsgType.OCV_TABLE), Ack(0, MsgType.CONFIGURE)]
        return self


def step(seq, demand=20000.0, mode=1, dt=1.0):
    return Step(seq, dt, mode, demand)


def test_hello_reports_identity_and_state():
    host = Host()
    (ack,) = host.send(Hello(77))
    assert ack == HelloAck(77, 1, 0, 0x1234, WINDOW, 0, 0, 0, MAX_SERIES, "kei-py")
    host.configure()
    host.send(*[step(s) for s in range(1, 4)])
    (ack,) = host.send(Hello(78))
    assert (ack.configured, ack.last_seq, ack.step_count) == (1, 3, 3)


def test_configured_needs_both_messages_in_either_order():
    host = Host()
    assert host.send(step(1)) == [Nack(1, MsgType.STEP, NackReason.NOT_CONFIGURED, 1)]
    assert host.send(SETUP.configure) == [Ack(0, MsgType.CONFIGURE)]
    assert host.send(Status(5)) == [Nack(5, MsgType.STATUS, NackReason.NOT_CONFIGURED, 1)]
    assert host.send(SETUP.ocv_table) == [Ack(0, MsgType.OCV_TABLE)]
    (t,) = host.send(Status(6))
    assert isinstance(t, Telemetry) and t.seq == 0 and t.step_count == 0


def test_steps_in_order_and_a_retransmission_is_never_applied_twice():
    host = Host().configure()
    first = host.send(step(1), step(2))
    assert [type(m) for m in first] == [Telemetry, Telemetry] and [m.seq for m in first] == [1, 2]
    again = host.send(step(1), step(2))
    assert again == first  # the cached answers, byte for byte
    assert host.device.bms.step_count == 2 and host.device.counters["steps_retransmitted"] == 2
    # A retransmission with different contents is still a retransmission: nothing is applied.
    assert host.send(step(2, demand=99999.0)) == [first[1]]


def test_out_of_order_nack_carries_the_expected_seq():
    host = Host().configure()
    host.send(step(1), step(2), step(3))
    assert host.send(step(5)) == [Nack(5, MsgType.STEP, NackReason.OUT_OF_ORDER, 4)]
    # Older than the window: not answerable from the cache.
    host.send(*[step(s) for s in range(4, 4 + WINDOW + 2)])
    last = 3 + WINDOW + 2
    assert host.send(step(last - WINDOW)) == [Nack(last - WINDOW, MsgType.STEP, NackReason.OUT_OF_ORDER, last + 1)]
    assert host.send(step(last - WINDOW + 1))[0].seq == last - WINDOW + 1  # the oldest cached one


def test_go_back_n_after_a_lost_step_loses_nothing():
    host = Host().configure()
    answers = host.send(step(1), step(3), step(4))  # step 2 lost on the line
    assert [type(a) for a in answers] == [Telemetry, Nack, Nack] and answers[1].expected_seq == 2
    answers = host.send(step(2), step(3), step(4))
    assert [a.seq for a in answers] == [2, 3, 4] and host.device.bms.step_count == 4


def test_seq_wraps_around():
    host = Host().configure(last_seq=65534, step_count=10)
    answers = host.send(step(65535), step(0), step(1))
    assert [(a.seq, a.step_count) for a in answers] == [(65535, 11), (0, 12), (1, 13)]
    assert host.send(step(65535)) == [answers[0]]  # still in the window across the wrap


def test_restoring_configure_continues_after_its_last_seq():
    host = Host().configure(last_seq=500, step_count=600, soc_true=0.5, soc_weak_true=0.49, soc_estimate=0.5)
    # 500 was applied before the device lost its state; nothing is cached, so the NACK says where to go on.
    assert host.send(step(500)) == [Nack(500, MsgType.STEP, NackReason.OUT_OF_ORDER, 501)]
    (t,) = host.send(step(501))
    assert (t.seq, t.step_count) == (501, 601) and t.soc_weak_true < 0.49


def test_corrupted_frames_never_act():
    host = Host().configure()
    good = step(1).frame()
    for bit in range(8 * (len(good) - 1)):
        bad = bytearray(good)
        bad[bit // 8] ^= 1 << (bit % 8)
        assert host.send(raw=bytes(bad) + b"\x00") == []
    assert host.device.bms.step_count == 0 and host.device.counters["nacks"] == 0
    assert sum(host.device.frame_errors.values()) > 0
    assert [m.seq for m in host.send(step(1))] == [1]


def test_good_crc_but_unknown_type_or_length_is_nacked_not_acted_on():
    host = Host().configure()

    def framed(body):
        crc = crc16(body)
        return cobs_encode(body + bytes((crc & 0xFF, crc >> 8))) + b"\x00"

    assert host.send(raw=framed(b"\x42\x09\x00")) == [Nack(9, 0x42, NackReason.UNKNOWN_TYPE, 1)]
    short_step = step(1).encode()[:-1]
    assert host.send(raw=framed(short_step)) == [Nack(1, MsgType.STEP, NackReason.BAD_LENGTH, 1)]
    assert host.send(Telemetry(3, *([0] * 14))) == [Nack(3, MsgType.TELEMETRY, NackReason.UNKNOWN_TYPE, 1)]
    assert host.device.bms.step_count == 0


@pytest.mark.parametrize("bad", [dict(series=0), dict(series=MAX_SERIES + 1), dict(capacity_ah=0.0),
                                 dict(tau1_s=-1.0), dict(cell_uv_v=4.3), dict(soc_true=1.2),
                                 dict(capacity_spread=0.5), dict(r0_ohm=float("nan"))])
def test_configure_with_a_bad_value_is_refused_as_a_whole(bad):
    host = Host().configure()
    host.send(step(1))
    cfg = dataclasses.replace(SETUP.configure, seq=4, **bad)
    assert host.send(cfg) == [Nack(4, MsgType.CONFIGURE, NackReason.BAD_VALUE, 2)]
    assert host.device.bms.last_seq == 1  # the old configuration and state stay


def test_bad_ocv_table_and_step_values_are_refused():
    host = Host()
    flat = OcvTable(2, 1, (3700,) * 21)
    assert host.send(flat) == [Nack(2, MsgType.OCV_TABLE, NackReason.BAD_VALUE, 1)]
    host.configure()
    for bad in (step(1, dt=0.0), step(1, dt=61.0), step(1, mode=7), step(1, demand=float("inf"))):
        assert host.send(bad) == [Nack(1, MsgType.STEP, NackReason.BAD_VALUE, 1)]
    assert host.device.bms.step_count == 0


def test_fault_comes_right_before_the_telemetry_of_its_step():
    host = Host().configure(debounce_current_s=0.0)
    limit = SETUP.configure.overcurrent_factor * SETUP.configure.max_discharge_a
    answers = host.send(step(1, demand=limit + 10.0, mode=0), step(2, demand=10.0, mode=0))
    assert [type(a) for a in answers] == [Fault, Telemetry, Telemetry]
    fault, t1, t2 = answers
    assert (fault.seq, fault.fault, fault.group) == (1, FaultFlag.OVERCURRENT_DISCHARGE, 255)
    assert fault.value == pytest.approx(limit + 10.0)
    assert t1.fault_flags == t2.fault_flags == FaultFlag.OVERCURRENT_DISCHARGE and t2.contactor == 0
    assert t2.pack_current_a == 0.0  # steps still apply, with zero current
    assert host.send(step(1, mode=0)) == [t1]  # the retransmitted answer has no second FAULT


def test_stop_reset_and_status():
    host = Host().configure()
    host.send(*[step(s) for s in range(1, 6)])
    assert host.send(Stop(40)) == [Ack(40, MsgType.STOP)]
    (t,) = host.send(Status(41))
    assert (t.seq, t.contactor, t.allowed_discharge_a) == (5, 0, 0.0)
    assert host.send(Reset(42, 1)) == [Ack(42, MsgType.RESET)]
    (t,) = host.send(Status(43))
    assert t.contactor == 1 and t.allowed_discharge_a > 0 and t.step_count == 5
    assert host.send(Reset(44, 0)) == [Ack(44, MsgType.RESET)]
    (t,) = host.send(Status(45))
    assert (t.seq, t.step_count, t.energy_out_wh) == (0, 0, 0.0)
    assert t.soc_true == pytest.approx(SETUP.configure.soc_true)
    assert host.send(step(5)) == [Nack(5, MsgType.STEP, NackReason.OUT_OF_ORDER, 1)]  # the cache went with the reset
    assert host.send(Reset(46, 9)) == [Nack(46, MsgType.RESET, NackReason.BAD_VALUE, 1)]


def test_frames_split_across_reads_and_batched_answers():
    host = Host().configure()
    wire = b"\x00\x13garbage\x00" + b"".join(step(s).frame() for s in range(1, 41))
    out = b""
    for i in range(0, len(wire), 7):
        out += host.device.feed(wire[i:i + 7])
    msgs = [decode(b) for b in host.decoder.feed(out)]
    assert [m.seq for m in msgs] == list(range(1, 41))


def test_a_diverged_model_still_answers():
    """The device does not clip a STEP's demand (protocol.md): 3e38 A drives the model to infinity,
    and it still answers, after the over-current and EMPTY faults that latched."""
    host = Host().configure()
    *faults, t = host.send(step(1, demand=3e38, mode=0))
    assert t.seq == 1 and t.temperature_c == float("inf") and t.energy_out_wh == -float("inf")
    assert [f.fault for f in faults] == [FaultFlag.OVERCURRENT_DISCHARGE, FaultFlag.EMPTY] and t.contactor == 0
