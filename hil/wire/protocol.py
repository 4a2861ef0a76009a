"""Messages of the bench protocol v1 (docs/protocol.md section 4) <-> frame bodies.

Pure. One frozen dataclass per message type; `msg.encode()` gives the body `type | seq | payload`
(little-endian, f32 floats), `decode(body)` the message (raising `MessageError`, a ProtocolError
carrying the NACK reason, for an unknown type or a payload of the wrong length). The CRC and the
COBS framing are `hil.framing`'s job; `msg.frame()` gives the bytes for the wire.
Enum-valued fields (mode, reason, fault bits ...) are kept as plain ints, so a message from a
newer or broken device still decodes; compare them with the enums below (IntEnum == int).
"""
from __future__ import annotations

import enum
import functools
import math
import struct
from dataclasses import dataclass, field, fields
from typing import ClassVar

from kei.hil.errors import ProtocolError
from kei.hil.wire.configure_ranges import (  # MAX_STEP_DT_S: the protocol's too, re-exported
    CONFIGURE_RANGES,
    MAX_STEP_DT_S,  # noqa: F401
    MIN_THERMAL_TIME_CONSTANT_S,
    PARALLEL_MAX,
    f32_bound,
)
from kei.hil.wire.framing import encode_frame

PROTOCOL_VERSION = 1
WINDOW = 16
OCV_POINTS = 21
HEADER = struct.Struct("<BH")


class MsgType(enum.IntEnum):
    HELLO = 0x01
    CONFIGURE = 0x02
    OCV_TABLE = 0x03
    STEP = 0x04
    RESET = 0x05
    STOP = 0x06
    STATUS = 0x07
    HELLO_ACK = 0x81
    ACK = 0x82
    NACK = 0x83
    TELEMETRY = 0x84
    FAULT = 0x85


class NackReason(enum.IntEnum):
    BAD_LENGTH = 1
    UNKNOWN_TYPE = 2
    BAD_VALUE = 3
    NOT_CONFIGURED = 4
    OUT_OF_ORDER = 5


class FaultFlag(enum.IntFlag):
    UNDERVOLTAGE = 1 << 0
    OVERVOLTAGE = 1 << 1
    OVERCURRENT_DISCHARGE = 1 << 2
    OVERCURRENT_CHARGE = 1 << 3
    OVERTEMPERATURE = 1 << 4
    EMPTY = 1 << 5


class FaultGroup(enum.IntEnum):
    TYPICAL = 0
    WEAKEST = 1
    PACK = 255


class Chemistry(enum.IntEnum):
    LFP = 0
    NMC = 1
    SODIUM_ION = 2
    NCA = 3
    OTHER = 255

    @classmethod
    def from_name(cls, name: str) -> "Chemistry":
        """Vehicle-file chemistry name -> code; chemistries without a code of their own are OTHER."""
        return cls.__members__.get(name.upper(), cls.OTHER)


class StepMode(enum.IntEnum):
    CURRENT = 0
    POWER = 1


class DeviceKind(enum.IntEnum):
    PYTHON_EMULATOR = 0
    C_STUB = 1
    HARDWARE = 2


class ResetWhat(enum.IntEnum):
    FULL = 0
    CLEAR_FAULTS = 1


class MessageError(ProtocolError):
    """A well-framed body that is not a valid message. `msg_type` and `seq` are what the body said
    (None if it was too short to say), `reason` the NackReason a device answers with."""

    def __init__(self, reason: NackReason, message: str, msg_type: int | None = None, seq: int | None = None):
        self.reason = reason
        self.msg_type = msg_type
        self.seq = seq
        super().__init__(message)


@dataclass(frozen=True)
class Message:
    """Base: `seq` (u16) plus the payload fields, in wire order, packed with `PAYLOAD`."""

    TYPE: ClassVar[MsgType]
    PAYLOAD: ClassVar[struct.Struct]
    seq: int

    def _wire(self) -> tuple:
        return tuple(getattr(self, name) for name in _payload_names(type(self)))

    @classmethod
    def _from_wire(cls, seq: int, values: tuple) -> "Message":
        return cls(seq, *values)

    def encode(self) -> bytes:
        """Body `type | seq | payload`. Raises ProtocolError for a value the wire format cannot hold."""
        try:
            return HEADER.pack(self.TYPE, self.seq) + self.PAYLOAD.pack(*self._wire())
        except (struct.error, OverflowError, TypeError) as err:
            raise ProtocolError(f"cannot encode {type(self).__name__}(seq={self.seq}): {err}") from err

    def frame(self) -> bytes:
        """The bytes for the wire: COBS(body | crc) 0x00."""
        return encode_frame(self.encode())


# ---- host -> device ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Hello(Message):
    TYPE: ClassVar = MsgType.HELLO
    PAYLOAD: ClassVar = struct.Struct("<")


@dataclass(frozen=True)
class Configure(Message):
    """The pack and the BMS calibration; units as in protocol.md (cell values per cell, currents per pack)."""

    TYPE: ClassVar = MsgType.CONFIGURE
    PAYLOAD: ClassVar = struct.Struct("<HHBB" + "f" * 28 + "HIf")
    series: int
    parallel: int
    chemistry: int
    flags: int
    capacity_ah: float
    r0_ohm: float
    r1_ohm: float
    tau1_s: float
    capacity_spread: float
    cell_uv_v: float
    cell_ov_v: float
    derate_window_v: float
    max_discharge_a: float
    max_charge_a: float
    overcurrent_factor: float
    temp_derate_c: float
    temp_max_c: float
    heat_capacity_j_per_k: float
    thermal_resistance_k_per_w: float
    ambient_c: float
    debounce_voltage_s: float
    debounce_current_s: float
    debounce_temp_s: float
    rest_current_a: float
    rest_time_s: float
    ocv_gain: float
    ocv_min_slope_v: float
    current_sensor_gain: float
    soc_true: float
    soc_estimate: float
    temperature_c: float
    energy_out_wh: float
    last_seq: int
    step_count: int
    soc_weak_true: float


@dataclass(frozen=True)
class OcvTable(Message):
    """Open-circuit cell voltage in mV at SOC 0, 5, ..., 100 %."""

    TYPE: ClassVar = MsgType.OCV_TABLE
    PAYLOAD: ClassVar = struct.Struct(f"<BB{OCV_POINTS}H")
    chemistry: int
    ocv_mv: tuple[int, ...]
    points: int = OCV_POINTS

    def _wire(self) -> tuple:
        if len(self.ocv_mv) != OCV_POINTS:
            raise ProtocolError(f"OCV_TABLE needs {OCV_POINTS} voltages, got {len(self.ocv_mv)}")
        return (self.chemistry, self.points, *self.ocv_mv)

    @classmethod
    def _from_wire(cls, seq: int, values: tuple) -> "OcvTable":
        return cls(seq, values[0], tuple(values[2:]), values[1])


@dataclass(frozen=True)
class Step(Message):
    """One time step of demand: pack current (A, mode 0) or terminal power (W, mode 1); discharge > 0."""

    TYPE: ClassVar = MsgType.STEP
    PAYLOAD: ClassVar = struct.Struct("<fBf")
    dt_s: float
    mode: int
    demand: float


@dataclass(frozen=True)
class Reset(Message):
    TYPE: ClassVar = MsgType.RESET
    PAYLOAD: ClassVar = struct.Struct("<B")
    what: int = ResetWhat.FULL


@dataclass(frozen=True)
class Stop(Message):
    TYPE: ClassVar = MsgType.STOP
    PAYLOAD: ClassVar = struct.Struct("<")


@dataclass(frozen=True)
class Status(Message):
    TYPE: ClassVar = MsgType.STATUS
    PAYLOAD: ClassVar = struct.Struct("<")


# ---- device -> host ---------------------------------------------------------------------------
@dataclass(frozen=True)
class HelloAck(Message):
    TYPE: ClassVar = MsgType.HELLO_ACK
    PAYLOAD: ClassVar = struct.Struct("<BBIBBHIH6s")
    protocol_version: int
    device_kind: int
    device_id: int
    window: int
    configured: int
    last_seq: int
    step_count: int
    max_series: int
    firmware: str

    def _wire(self) -> tuple:
        return (*Message._wire(self)[:-1], self.firmware.encode("ascii", "replace"))

    @classmethod
    def _from_wire(cls, seq: int, values: tuple) -> "HelloAck":
        return cls(seq, *values[:-1], values[-1].rstrip(b"\x00").decode("ascii", "replace"))


@dataclass(frozen=True)
class Ack(Message):
    TYPE: ClassVar = MsgType.ACK
    PAYLOAD: ClassVar = struct.Struct("<BB")
    acked_type: int
    status: int = 0


@dataclass(frozen=True)
class Nack(Message):
    TYPE: ClassVar = MsgType.NACK
    PAYLOAD: ClassVar = struct.Struct("<BBH")
    rejected_type: int
    reason: int
    expected_seq: int


@dataclass(frozen=True)
class Telemetry(Message):
    """The device's state at the end of step `seq`. Currents A (discharge > 0), voltages V, C, Wh."""

    TYPE: ClassVar = MsgType.TELEMETRY
    PAYLOAD: ClassVar = struct.Struct("<I" + "f" * 11 + "HBB")
    step_count: int
    pack_voltage_v: float
    pack_current_a: float
    soc_estimate: float
    soc_true: float
    cell_v_min_v: float
    cell_v_max_v: float
    temperature_c: float
    allowed_discharge_a: float
    allowed_charge_a: float
    energy_out_wh: float
    soc_weak_true: float
    fault_flags: int
    contactor: int
    reserved: int = field(default=0)


@dataclass(frozen=True)
class Fault(Message):
    """A protection latched on step `seq`: `fault` is one FaultFlag bit, `value` what tripped it (V, A or C)."""

    TYPE: ClassVar = MsgType.FAULT
    PAYLOAD: ClassVar = struct.Struct("<HBf")
    fault: int
    group: int
    value: float


MESSAGES: dict[int, type[Message]] = {cls.TYPE: cls for cls in (
    Hello, Configure, OcvTable, Step, Reset, Stop, Status, HelloAck, Ack, Nack, Telemetry, Fault)}


def payload_size(msg_type: int) -> int | None:
    """Payload bytes of a known type, None for an unknown one."""
    cls = MESSAGES.get(msg_type)
    return cls.PAYLOAD.size if cls else None


def decode(body: bytes) -> Message:
    """Body `type | seq | payload` (as FrameDecoder returns it) -> message. Raises MessageError."""
    if len(body) < HEADER.size:
        raise MessageError(NackReason.BAD_LENGTH, f"body of {len(body)} bytes has no type and seq",
                           body[0] if body else None)
    msg_type, seq = HEADER.unpack_from(body)
    cls = MESSAGES.get(msg_type)
    if cls is None:
        raise MessageError(NackReason.UNKNOWN_TYPE, f"unknown message type {msg_type:#04x} (seq {seq})", msg_type, seq)
    size = len(body) - HEADER.size
    if size != cls.PAYLOAD.size:
        raise MessageError(NackReason.BAD_LENGTH, f"{MsgType(msg_type).name} (seq {seq}) has a {size}-byte payload, "
                           f"expected {cls.PAYLOAD.size}", msg_type, seq)
    return cls._from_wire(seq, cls.PAYLOAD.unpack_from(body, HEADER.size))


@functools.cache
def _payload_names(cls: type[Message]) -> tuple[str, ...]:
    """Payload field names of a message class, in wire order (all dataclass fields but seq)."""
    return tuple(f.name for f in fields(cls))[1:]


# ---- value checks a device applies before accepting (protocol.md: NACK BAD_VALUE) ---------------
def configure_errors(msg: Configure, max_series: int) -> list[str]:
    """Why a device must refuse this CONFIGURE (empty list: acceptable): a non-finite float, a field
    outside its physical range (`configure_ranges`), or fields that contradict each other."""
    errors = [f"{name} = {getattr(msg, name)} is not finite" for name in _payload_names(Configure)
              if isinstance(getattr(msg, name), float) and not math.isfinite(getattr(msg, name))]
    if errors:
        return errors
    if not 1 <= msg.series <= max_series:
        errors.append(f"series = {msg.series} outside 1..{max_series}")
    if not 1 <= msg.parallel <= PARALLEL_MAX:
        errors.append(f"parallel = {msg.parallel} outside 1..{PARALLEL_MAX}")
    errors += [f"{r.name} = {getattr(msg, r.name)} outside {r.text()}: {r.why}" for r in CONFIGURE_RANGES
               if not r.holds(getattr(msg, r.name))]
    if msg.cell_uv_v >= msg.cell_ov_v:
        errors.append(f"cell_uv_v = {msg.cell_uv_v} >= cell_ov_v = {msg.cell_ov_v}")
    if msg.temp_max_c <= msg.temp_derate_c:
        errors.append(f"temp_max_c = {msg.temp_max_c} <= temp_derate_c = {msg.temp_derate_c}")
    tau = f32_bound(msg.heat_capacity_j_per_k * msg.thermal_resistance_k_per_w)  # as the C stub's float product
    if not tau >= MIN_THERMAL_TIME_CONSTANT_S:
        errors.append(f"heat_capacity_j_per_k x thermal_resistance_k_per_w = {tau:g} s, below the "
                      f"{MIN_THERMAL_TIME_CONSTANT_S:g} s of the longest step: the thermal model would overshoot "
                      "and diverge")
    return errors


def ocv_table_errors(msg: OcvTable) -> list[str]:
    """Why a device must refuse this OCV_TABLE (empty list: acceptable)."""
    if msg.points != OCV_POINTS:
        return [f"points = {msg.points}, version 1 has {OCV_POINTS}"]
    mv = msg.ocv_mv
    if any(b <= a for a, b in zip(mv, mv[1:])) or mv[0] == 0:
        return ["voltages must be positive and strictly increasing"]
    return []
