"""An emulated CAN BMS on a `LabBench`: the broadcast frames of configs/lab/kei_bms.dbc, packed here
by hand (struct and shifts), so that the host's decoder, cantools reading the DBC, checks them
independently; and an slcan (Lawicel) serial adapter in front of it, so python-can's `slcan`
interface reaches it over a pty as it reaches a CANable on /dev/ttyACM0.

Frames (11-bit ids, little-endian signals, discharge positive), one set per broadcast:

    0x6B0 BMS_Pack    PackVoltage u16 0.01 V | PackCurrent s16 0.1 A | SOC s16 0.01 % | FaultFlags u8
                      | Contactor bit 56 | Counter u4 bits 60-63
    0x6B1 BMS_Limits  DCL u16 0.1 A | CCL u16 0.1 A | TempMax s16 0.1 C | TempMin s8 1 C | Counter u4 60-63
    0x6B2 BMS_Cells   CellVMin u16 0.1 mV | CellVMax u16 0.1 mV | CellMinIndex u8 | CellMaxIndex u8
                      | CellCount u8 | Counter u4 60-63
    0x6B3 BMS_CellVoltages  CellFrame u8 | CellV1..3 u16 1 mV (cells 3 x frame + 1 .. 3); one frame per
                      broadcast, round robin

FaultFlags are kei's FaultFlag bits (docs/protocol.md). DCL / CCL are the BMS's allowed currents
(bms_model.md step 7), which JBD and Daly boards do not report. Pure.
"""
from __future__ import annotations

import math
import struct

from kei.hil.emulator.lab_bench import LabBench

ID_PACK, ID_LIMITS, ID_CELLS, ID_CELL_VOLTAGES = 0x6B0, 0x6B1, 0x6B2, 0x6B3
CELLS_PER_FRAME = 3


def _clamp(x: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, round(x)))


class CanBms:
    """`broadcast() -> [(id, data)]`: one set of frames from the bench's present state."""

    def __init__(self, bench: LabBench):
        self.bench = bench
        self.counter = 0
        self.cell_frame = 0

    def broadcast(self) -> list[tuple[int, bytes]]:
        bench, bms = self.bench, self.bench.bms
        p = bms.pack
        c = self.counter
        tail = c << 4
        pack = struct.pack("<HhhBB", _clamp(p.pack_voltage_v * 100.0, 0, 0xFFFF),
                           _clamp(bench.current_a() * 10.0, -0x8000, 0x7FFF), _clamp(bms.soc_estimate * 10000.0, -0x8000, 0x7FFF),
                           bms.fault_flags & 0xFF, int(bms.contactor) | tail)
        limits = struct.pack("<HHhbB", _clamp(bms.allowed_discharge_a * 10.0, 0, 0xFFFF),
                             _clamp(bms.allowed_charge_a * 10.0, 0, 0xFFFF), _clamp(p.temp_c * 10.0, -0x8000, 0x7FFF),
                             _clamp(p.temp_c, -128, 127), tail)
        v_min, i_min, v_max, i_max = bench.cell_extremes()
        cells = struct.pack("<HHBBBB", _clamp(v_min * 10000.0, 0, 0xFFFF), _clamp(v_max * 10000.0, 0, 0xFFFF),
                            min(i_min, 255), min(i_max, 255), min(bms.series, 255), tail)
        volts = bench.cell_voltages_v()
        frames = math.ceil(len(volts) / CELLS_PER_FRAME)
        n = self.cell_frame % frames
        chunk = ([_clamp(v * 1000.0, 0, 0xFFFF) for v in volts[n * 3:n * 3 + 3]] + [0, 0])[:3]
        cell_voltages = struct.pack("<B3HB", n, *chunk, 0)
        self.counter = (c + 1) % 16
        self.cell_frame = n + 1
        return [(ID_PACK, pack), (ID_LIMITS, limits), (ID_CELLS, cells), (ID_CELL_VOLTAGES, cell_voltages)]


class SlcanAdapter:
    """The serial side of an slcan USB-CAN adapter: commands end with CR, answered CR (ok) or BEL
    (error); received frames go to the host as `tIIILDD..CR` while the channel is open."""

    OK, ERROR = b"\r", b"\a"

    def __init__(self):
        self.open = False
        self.buffer = bytearray()
        self.counters = {"commands": 0, "frames_out": 0, "frames_in": 0}

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        out = []
        while (i := self.buffer.find(b"\r")) >= 0:
            cmd = bytes(self.buffer[:i]).decode("ascii", "replace").strip("\n")
            del self.buffer[:i + 1]
            self.counters["commands"] += 1
            out.append(self._command(cmd))
        return b"".join(out)

    def _command(self, cmd: str) -> bytes:
        if not cmd:
            return self.OK
        head = cmd[0]
        if head in ("O", "L"):
            self.open = True
            return self.OK
        if head == "C":
            self.open = False
            return self.OK
        if head in ("S", "s", "Y", "F", "X", "Z", "M", "m"):
            return self.OK
        if head == "V":
            return b"V1013\r"
        if head == "N":
            return b"NKEI0\r"
        if head in ("t", "T", "r", "R"):
            self.counters["frames_in"] += 1  # the emulated BMS listens to nothing
            return b"z\r" if head in "tr" else b"Z\r"
        return self.ERROR

    def encode(self, frames: list[tuple[int, bytes]]) -> bytes:
        if not self.open:
            return b""
        self.counters["frames_out"] += len(frames)
        return b"".join(f"t{can_id:03X}{len(data)}{data.hex().upper()}\r".encode() for can_id, data in frames)
