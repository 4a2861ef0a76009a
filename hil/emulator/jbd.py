"""An emulated JBD / Xiaoxiang BMS on a `LabBench`: the UART protocol (9600 8N1) of the BMS boards,
as the PyPI client `bmstools` speaks it (docs/lab.md has the register layouts).

Request `DD A5 reg len data chk_hi chk_lo 77`, answer `DD reg status len data chk_hi chk_lo 77`,
checksum = 0x10000 - sum(bytes between the command/status byte and the checksum) (request: reg, len,
data; answer: status, len, data). Read registers: 0x03 basic info, 0x04 cell voltages, 0x05 device
name. Conventions of the real boards: current positive while *charging* (10 mA), pack 10 mV,
capacities 10 mAh, RSOC in whole %, temperatures in 0.1 K, FET bits 0 charge / 1 discharge.

Protection bits (register 0x03, u16): the kei fault that latched maps to the JBD bit a board would
set: under-voltage and EMPTY -> cuvp (bit 1; a board knows no "empty", it sees the cell's voltage),
over-voltage -> covp (0), discharge / charge over-current -> dsgoc (9) / chgoc (8),
over-temperature -> dsgot (6). Pure bytes in, bytes out.
"""
from __future__ import annotations

import struct

from kei.hil.emulator.lab_bench import LabBench
from kei.hil.wire.protocol import FaultFlag

START, END, READ, WRITE = 0xDD, 0x77, 0xA5, 0x5A
REG_BASIC, REG_CELLS, REG_NAME = 0x03, 0x04, 0x05
STATUS_OK, STATUS_ERROR = 0x00, 0x80
NAME = b"KEI-EMU-JBD"
KELVIN_OFFSET_DECI = 2731
NTC_COUNT = 2           # the lumped pack temperature on both sensors
MAX_FRAME = 4 + 255 + 3
FAULT_BITS = {FaultFlag.OVERVOLTAGE: 0, FaultFlag.UNDERVOLTAGE: 1, FaultFlag.EMPTY: 1, FaultFlag.OVERTEMPERATURE: 6,
              FaultFlag.OVERCURRENT_CHARGE: 8, FaultFlag.OVERCURRENT_DISCHARGE: 9}


def checksum(data: bytes) -> int:
    return (0x10000 - sum(data)) & 0xFFFF


def answer(reg: int, status: int, payload: bytes) -> bytes:
    body = bytes([status, len(payload)]) + payload
    return bytes([START, reg]) + body + struct.pack(">H", checksum(body)) + bytes([END])


def _u16(x: float) -> int:
    return max(0, min(0xFFFF, round(x)))


def _s16(x: float) -> int:
    return max(-0x8000, min(0x7FFF, round(x)))


def protection_word(fault_flags: int) -> int:
    word = 0
    for flag, bit in FAULT_BITS.items():
        if fault_flags & flag:
            word |= 1 << bit
    return word


def basic_info(bench: LabBench) -> bytes:
    bms = bench.bms
    full_10mah = bench.capacity_ah * 100.0
    soc = min(1.0, max(0.0, bms.soc_estimate))
    temp = _u16(bms.pack.temp_c * 10.0 + KELVIN_OFFSET_DECI)
    fets = (1 if bms.contactor else 0) | (2 if bms.contactor else 0)
    head = struct.pack(">HhHHHHHHHBBBBB", _u16(bms.pack.pack_voltage_v * 100.0), _s16(-bench.current_a() * 100.0),
                       _u16(soc * full_10mah), _u16(full_10mah), 0, (26 << 9) | (1 << 5) | 1, 0, 0,
                       protection_word(bms.fault_flags), 0x10, round(100.0 * soc), fets, bms.series, NTC_COUNT)
    return head + struct.pack(f">{NTC_COUNT}H", *([temp] * NTC_COUNT))


def cell_info(bench: LabBench) -> bytes:
    return struct.pack(f">{bench.bms.series}H", *(_u16(v * 1000.0) for v in bench.cell_voltages_v()))


class JbdDevice:
    """`feed(bytes) -> bytes`: answers every complete request; garbage and bad checksums are dropped."""

    def __init__(self, bench: LabBench):
        self.bench = bench
        self.buffer = bytearray()
        self.counters = {"requests": 0, "bad_frames": 0}

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        out = []
        buf = self.buffer
        while True:
            i = buf.find(bytes([START]))
            if i < 0:
                buf.clear()
                break
            del buf[:i]
            if len(buf) < 4:
                break
            need = 4 + buf[3] + 3
            if len(buf) < need:
                break
            frame = bytes(buf[:need])
            body = frame[2:need - 3]
            if frame[1] not in (READ, WRITE) or frame[-1] != END or struct.unpack(">H", frame[-3:-1])[0] != checksum(body):
                self.counters["bad_frames"] += 1
                del buf[:1]
                continue
            del buf[:need]
            self.counters["requests"] += 1
            out.append(self._answer(frame[1], frame[2]))
        return b"".join(out)

    def _answer(self, op: int, reg: int) -> bytes:
        if op != READ:
            return answer(reg, STATUS_ERROR, b"")  # the emulated board is read-only
        self.bench.sync()
        if reg == REG_BASIC:
            return answer(reg, STATUS_OK, basic_info(self.bench))
        if reg == REG_CELLS:
            return answer(reg, STATUS_OK, cell_info(self.bench))
        if reg == REG_NAME:
            return answer(reg, STATUS_OK, NAME)
        return answer(reg, STATUS_ERROR, b"")
