"""kei's client for Daly BMS boards (UART / RS-485, 9600 8N1), written from the protocol (docs/lab.md),
independently of the emulator's encoder; `dalybms` (PyPI) checks both in tests/component/test_lab_conformity.py.

Per step: 0x90 (pack V, current, SOC), 0x91 (cell extremes), 0x92 (temperatures), 0x93 (MOSFETs:
the contactor), 0x98 (failure bits); 0x94 + 0x95 (every cell) when cells are asked for. Every
answer frame's checksum is verified; a request is repeated until `retries`.
"""
from __future__ import annotations

import math
import struct

from kei.hil.errors import BmsLinkError
from kei.hil.lab.bms_clients import BmsClient, BmsReading
from kei.hil.lab.serial_bms import SerialPort
from kei.hil.wire.protocol import FaultFlag

START, HOST_ADDRESS, LENGTH, FRAME = 0xA5, 0x40, 0x08, 13
CURRENT_OFFSET = 30000
TEMP_OFFSET_C = 40
# (byte, bit) of the 0x98 failure bits -> kei fault; level-1 warnings and the rest open nothing
DALY_FAULTS = {(0, 1): FaultFlag.OVERVOLTAGE, (0, 3): FaultFlag.UNDERVOLTAGE, (0, 5): FaultFlag.OVERVOLTAGE,
               (0, 7): FaultFlag.UNDERVOLTAGE, (1, 1): FaultFlag.OVERTEMPERATURE, (1, 5): FaultFlag.OVERTEMPERATURE,
               (2, 1): FaultFlag.OVERCURRENT_CHARGE, (2, 3): FaultFlag.OVERCURRENT_DISCHARGE, (2, 7): FaultFlag.EMPTY}


def request(cmd: int) -> bytes:
    body = bytes([START, HOST_ADDRESS, cmd, LENGTH]) + bytes(8)
    return body + bytes([sum(body) & 0xFF])


def parse_frames(buf: bytearray, cmd: int, count: int) -> list[bytes] | None:
    """`count` good answer frames for `cmd` (their 8 data bytes), or None (yet)."""
    out = []
    i = 0
    while len(buf) - i >= FRAME:
        if buf[i] != START:
            i += 1
            continue
        f = bytes(buf[i:i + FRAME])
        if f[3] == LENGTH and sum(f[:-1]) & 0xFF == f[-1] and f[2] == cmd:
            out.append(f[4:12])
            i += FRAME
        else:
            i += 1
        if len(out) == count:
            return out
    return None


def kei_faults(data: bytes) -> int:
    flags = 0
    for (byte, bit), flag in DALY_FAULTS.items():
        if data[byte] & (1 << bit):
            flags |= flag
    return int(flags)


class DalyClient(BmsClient):
    protocol = "daly"

    def __init__(self, settings, port: str, dbc=None):
        self.settings = settings
        self.port = port
        self.line = SerialPort(port, settings.baudrate, settings.timeout_s)
        self.cell_count = None

    def open(self) -> None:
        self.line.open()

    def close(self) -> None:
        self.line.close()

    def _read(self, cmd: int, count: int = 1) -> list[bytes]:
        for _ in range(self.settings.retries):
            frames = self.line.exchange(request(cmd), lambda buf: parse_frames(buf, cmd, count))
            if frames is not None:
                return frames
        raise BmsLinkError(f"{self.port}: Daly BMS: no valid answer to command 0x{cmd:02X} in "
                           f"{self.settings.retries} tries of {self.settings.timeout_s:g} s")

    def cells(self) -> list[float]:
        if self.cell_count is None:
            self.cell_count = self._read(0x94)[0][0]
        volts = []
        for data in self._read(0x95, math.ceil(self.cell_count / 3)):
            volts += [mv / 1000.0 for mv in struct.unpack_from(">3H", data, 1)]
        return volts[:self.cell_count]

    def read(self, cells: bool = False) -> BmsReading:
        pack_dv, _, current_raw, soc_permille = struct.unpack(">HHHH", self._read(0x90)[0])
        v_max_mv, i_max, v_min_mv, i_min = struct.unpack_from(">HBHB", self._read(0x91)[0])
        t = self._read(0x92)[0]
        mos = self._read(0x93)[0]
        fail = self._read(0x98)[0]
        return BmsReading(pack_dv / 10.0, (current_raw - CURRENT_OFFSET) / 10.0, soc_permille / 1000.0,
                          v_min_mv / 1000.0, v_max_mv / 1000.0, i_min, i_max, float(t[0] - TEMP_OFFSET_C),
                          float(t[2] - TEMP_OFFSET_C), kei_faults(fail), int.from_bytes(fail, "big"), bool(mos[2]),
                          cells_v=self.cells() if cells else [])
