"""The emulated BMS as a pure object: bytes from the host in, bytes for the host out.

Framing (hil.framing), message dispatch, and the sequence rules of docs/protocol.md section 3:
a STEP is applied once; a retransmission of one of the last WINDOW applied steps gets the cached
TELEMETRY; anything else gets NACK OUT_OF_ORDER with the expected seq. A frame that fails COBS or
CRC is dropped silently (counted); a good frame of unknown type or length is NACKed, never acted on.
No I/O and no clock here: `hil/device/main.py` puts this object on a serial port.
"""
from __future__ import annotations

import math
import random
import struct

from kei.hil.emulator.bms import Bms
from kei.hil.wire.framing import FrameDecoder, encode_frame
from kei.hil.wire.protocol import (
    HEADER,
    MAX_STEP_DT_S,
    PROTOCOL_VERSION,
    WINDOW,
    Ack,
    Configure,
    DeviceKind,
    Fault,
    HelloAck,
    MessageError,
    MsgType,
    Nack,
    NackReason,
    OcvTable,
    ResetWhat,
    Step,
    Telemetry,
    configure_errors,
    decode,
    ocv_table_errors,
)

MAX_SERIES = 1024          # the emulator's limit on `series` (HELLO_ACK max_series); any u16 would do
FIRMWARE = "kei-py"
SEQ_MOD = 1 << 16
_STEP = int(MsgType.STEP)
# The hot path packs and unpacks whole bodies with one struct each, without message dataclasses.
_STEP_BODY = struct.Struct(HEADER.format + Step.PAYLOAD.format.lstrip("<"))
_TELEMETRY_BODY = struct.Struct(HEADER.format + Telemetry.PAYLOAD.format.lstrip("<"))
_TELEMETRY = int(MsgType.TELEMETRY)
_VALID_MODES = (0, 1)
F32_MAX = 3.4028234663852886e38


class Device:
    """One emulated BMS. `feed(bytes) -> bytes` handles every complete frame in the input and returns
    the answers, in order, as one string of wire bytes. `counters` says what happened."""

    def __init__(self, device_id: int | None = None):
        self.device_id = random.getrandbits(32) if device_id is None else device_id
        self.decoder = FrameDecoder()
        self.bms: Bms | None = None
        self._configure: Configure | None = None
        self._ocv: OcvTable | None = None
        self._cache: dict[int, bytes] = {}
        self.counters = dict.fromkeys(("steps_applied", "steps_retransmitted", "nacks", "faults"), 0)

    @property
    def configured(self) -> bool:
        return self.bms is not None

    @property
    def frame_errors(self) -> dict[str, int]:
        return self.decoder.errors

    # ---- bytes in, bytes out ------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        for body in self.decoder.feed(data):
            if len(body) == _STEP_BODY.size and body[0] == _STEP:
                _, seq, dt, mode, demand = _STEP_BODY.unpack(body)
                self._step(seq, dt, mode, demand, out)
            else:
                self._message(body, out)
        self.decoder.pop_errors()  # counted in decoder.errors; the device has nobody to tell
        return b"".join(out)

    def _message(self, body: bytes, out: list[bytes]) -> None:
        try:
            msg = decode(body)
        except MessageError as err:
            self._nack(err.seq or 0, err.msg_type or 0, err.reason, out)
            return
        kind = msg.TYPE
        if kind == MsgType.HELLO:
            bms = self.bms
            out.append(HelloAck(msg.seq, PROTOCOL_VERSION, DeviceKind.PYTHON_EMULATOR, self.device_id, WINDOW,
                                int(bms is not None), bms.last_seq if bms else 0, bms.step_count if bms else 0,
                                MAX_SERIES, FIRMWARE).frame())
        elif kind == MsgType.CONFIGURE:
            if configure_errors(msg, MAX_SERIES):
                self._nack(msg.seq, kind, NackReason.BAD_VALUE, out)
                return
            self._configure = msg
            self._cache.clear()
            if self._ocv is not None:
                self.bms = Bms(msg, self._ocv.ocv_mv)
            out.append(Ack(msg.seq, kind).frame())
        elif kind == MsgType.OCV_TABLE:
            if ocv_table_errors(msg):
                self._nack(msg.seq, kind, NackReason.BAD_VALUE, out)
                return
            self._ocv = msg
            if self.bms is not None:
                self.bms.set_curve(msg.ocv_mv)
            elif self._configure is not None:
                self.bms = Bms(self._configure, msg.ocv_mv)
            out.append(Ack(msg.seq, kind).frame())
        elif kind == MsgType.STEP:  # a STEP body of the right length never gets here; kept for completeness
            self._step(msg.seq, msg.dt_s, msg.mode, msg.demand, out)
        elif kind == MsgType.RESET:
            if msg.what not in (ResetWhat.FULL, ResetWhat.CLEAR_FAULTS):
                self._nack(msg.seq, kind, NackReason.BAD_VALUE, out)
                return
            if self.bms is not None:
                if msg.what == ResetWhat.FULL:
                    self.bms.reset()
                    self._cache.clear()
                else:
                    self.bms.clear_faults()
            out.append(Ack(msg.seq, kind).frame())
        elif kind == MsgType.STOP:
            if self.bms is not None:
                self.bms.stop()
            out.append(Ack(msg.seq, kind).frame())
        elif kind == MsgType.STATUS:
            if self.bms is None:
                self._nack(msg.seq, kind, NackReason.NOT_CONFIGURED, out)
            else:
                out.append(self._telemetry_frame(self.bms.last_seq))
        else:  # a device-to-host type sent to the device
            self._nack(msg.seq, kind, NackReason.UNKNOWN_TYPE, out)

    def _step(self, seq: int, dt: float, mode: int, demand: float, out: list[bytes]) -> None:
        bms = self.bms
        if bms is None:
            self._nack(seq, _STEP, NackReason.NOT_CONFIGURED, out)
            return
        behind = (bms.last_seq - seq) % SEQ_MOD
        if behind == SEQ_MOD - 1:  # seq == last_seq + 1: the next step
            if not (0.0 < dt <= MAX_STEP_DT_S and mode in _VALID_MODES and math.isfinite(demand)):
                self._nack(seq, _STEP, NackReason.BAD_VALUE, out)
                return
            for flag, group, value in bms.step(seq, dt, mode, demand):
                out.append(Fault(seq, flag, group, _f32(value)).frame())
                self.counters["faults"] += 1
            frame = self._telemetry_frame(seq)
            cache = self._cache
            cache[seq] = frame
            cache.pop((seq - WINDOW) % SEQ_MOD, None)
            out.append(frame)
            self.counters["steps_applied"] += 1
        elif behind < WINDOW and seq in self._cache:  # a retransmission: answer again, never apply again
            out.append(self._cache[seq])
            self.counters["steps_retransmitted"] += 1
        else:  # ahead, too old, or applied before a CONFIGURE/RESET emptied the cache
            self._nack(seq, _STEP, NackReason.OUT_OF_ORDER, out)

    def _telemetry_frame(self, seq: int) -> bytes:
        bms = self.bms
        p = bms.pack
        v_min = p.cell_min()[0]
        v_max = p.cell_max()[0]
        values = [p.pack_voltage_v, p.current_a, bms.soc_estimate, p.soc_true, v_min, v_max, p.temp_c,
                  bms.allowed_discharge_a, bms.allowed_charge_a, bms.energy_out_wh, p.soc_w]
        try:
            body = _TELEMETRY_BODY.pack(_TELEMETRY, seq, bms.step_count, *values,
                                        bms.fault_flags, int(bms.contactor), 0)
        except OverflowError:
            body = _TELEMETRY_BODY.pack(_TELEMETRY, seq, bms.step_count, *map(_f32, values),
                                        bms.fault_flags, int(bms.contactor), 0)
        return encode_frame(body)

    def _nack(self, seq: int, rejected: int, reason: NackReason, out: list[bytes]) -> None:
        expected = (self.bms.last_seq + 1) % SEQ_MOD if self.bms is not None else 1
        out.append(Nack(seq, rejected, reason, expected).frame())
        self.counters["nacks"] += 1


def _f32(x: float) -> float:
    """`x`, or +-inf where it exceeds binary32 (struct refuses to pack it): a diverged model still answers."""
    return x if not abs(x) > F32_MAX else math.copysign(math.inf, x)
