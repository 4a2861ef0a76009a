"""An emulated Daly BMS on a `LabBench`: the UART/RS-485 protocol (9600 8N1) as the PyPI client
`dalybms` speaks it (docs/lab.md has the layouts).

Every frame is 13 bytes: `A5 | address | command | 08 | 8 data bytes | sum & 0xFF`; the host sends
address 0x40 (RS-485; 0x80 Bluetooth), the BMS answers with 0x01. Commands: 0x90 pack voltage
(0.1 V), current ((raw - 30000) / 10 A, discharge positive as dalybms reads it) and SOC (0.1 %);
0x91 highest / lowest cell (mV, 1-based cell number); 0x92 highest / lowest temperature (+40 C);
0x93 state, charge / discharge MOSFET, remaining capacity (mAh); 0x94 cell and sensor counts;
0x95 cell voltages, 3 per frame (frame number first); 0x96 temperatures, 7 per frame; 0x97
balancing; 0x98 failure bits.

Failure bits (0x98, byte.bit), the level-2 alarm a board raises when it opens its MOSFETs:
cell under-voltage 0.3, over-voltage 0.1, discharge-temperature high 1.5, charge over-current
2.1, discharge over-current 2.3, SOC too low (EMPTY) 2.7. Pure bytes in, bytes out.
"""
from __future__ import annotations

import math
import struct

from kei.hil.emulator.lab_bench import LabBench
from kei.hil.wire.protocol import FaultFlag

START, ANSWER_ADDRESS, LENGTH = 0xA5, 0x01, 0x08
FRAME = 13
CURRENT_OFFSET = 30000
TEMP_OFFSET_C = 40
TEMP_SENSORS = 1
CELLS_PER_FRAME, TEMPS_PER_FRAME = 3, 7
FAULT_BITS = {FaultFlag.OVERVOLTAGE: (0, 1), FaultFlag.UNDERVOLTAGE: (0, 3), FaultFlag.OVERTEMPERATURE: (1, 5),
              FaultFlag.OVERCURRENT_CHARGE: (2, 1), FaultFlag.OVERCURRENT_DISCHARGE: (2, 3), FaultFlag.EMPTY: (2, 7)}


def frame(command: int, data: bytes) -> bytes:
    body = bytes([START, ANSWER_ADDRESS, command, LENGTH]) + data.ljust(8, b"\x00")
    return body + bytes([sum(body) & 0xFF])


def _u16(x: float) -> int:
    return max(0, min(0xFFFF, round(x)))


def failure_bytes(fault_flags: int) -> bytes:
    out = bytearray(8)
    for flag, (byte, bit) in FAULT_BITS.items():
        if fault_flags & flag:
            out[byte] |= 1 << bit
    return bytes(out)


class DalyDevice:
    """`feed(bytes) -> bytes`: answers every complete request frame; bad ones are dropped."""

    def __init__(self, bench: LabBench):
        self.bench = bench
        self.buffer = bytearray()
        self.counters = {"requests": 0, "bad_frames": 0}

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        buf = self.buffer
        out = []
        while True:
            i = buf.find(bytes([START]))
            if i < 0:
                buf.clear()
                break
            del buf[:i]
            if len(buf) < FRAME:
                break
            req = bytes(buf[:FRAME])
            if req[3] != LENGTH or sum(req[:-1]) & 0xFF != req[-1]:
                self.counters["bad_frames"] += 1
                del buf[:1]
                continue
            del buf[:FRAME]
            self.counters["requests"] += 1
            out += self._answer(req[2])
        return b"".join(out)

    def _answer(self, cmd: int) -> list[bytes]:
        bench = self.bench
        bench.sync()
        bms = bench.bms
        if cmd == 0x90:
            soc = min(1.0, max(0.0, bms.soc_estimate))
            return [frame(cmd, struct.pack(">HHHH", _u16(bms.pack.pack_voltage_v * 10.0), 0,
                                           _u16(CURRENT_OFFSET + 10.0 * bench.current_a()), _u16(1000.0 * soc)))]
        if cmd == 0x91:
            v_min, i_min, v_max, i_max = bench.cell_extremes()
            return [frame(cmd, struct.pack(">HBHB", _u16(v_max * 1000.0), i_max, _u16(v_min * 1000.0), i_min))]
        if cmd == 0x92:
            t = max(0, min(255, round(bms.pack.temp_c + TEMP_OFFSET_C)))
            return [frame(cmd, bytes([t, 1, t, 1]))]
        if cmd == 0x93:
            i = bench.current_a()
            state = 0 if i == 0.0 else 2 if i > 0 else 1
            remaining_mah = round(1000.0 * bench.capacity_ah * min(1.0, max(0.0, bms.soc_estimate)))
            return [frame(cmd, struct.pack(">BBBBl", state, int(bms.contactor), int(bms.contactor), 0, remaining_mah))]
        if cmd == 0x94:
            return [frame(cmd, struct.pack(">BBBBBH", bms.series, TEMP_SENSORS, 0, int(bench.current_a() > 0), 0, 0))]
        if cmd == 0x95:
            cells = [_u16(v * 1000.0) for v in bench.cell_voltages_v()]
            out = []
            for n in range(math.ceil(len(cells) / CELLS_PER_FRAME)):
                chunk = (cells[n * 3:n * 3 + 3] + [0, 0])[:3]
                out.append(frame(cmd, struct.pack(">B3H", n + 1, *chunk)))
            return out
        if cmd == 0x96:
            t = max(0, min(255, round(bms.pack.temp_c + TEMP_OFFSET_C)))
            return [frame(cmd, bytes([1, t]))]
        if cmd == 0x97:
            return [frame(cmd, b"")]
        if cmd == 0x98:
            return [frame(cmd, failure_bytes(bms.fault_flags))]
        return []  # a real board ignores what it does not know
