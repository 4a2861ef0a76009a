"""kei's client for JBD / Xiaoxiang BMS boards (UART 9600 8N1), written from the protocol (docs/lab.md),
independently of the emulator's encoder; `bmstools` (PyPI) checks both in tests/component/test_lab_conformity.py.

Read register 0x03 (basic info) every step and 0x04 (cell voltages) for the extremes. The answer's
checksum and end byte are verified; a frame that does not check is dropped and the request repeated.
"""
from __future__ import annotations

import struct

from kei.hil.errors import BmsLinkError
from kei.hil.lab.bms_clients import BmsClient, BmsReading
from kei.hil.lab.serial_bms import SerialPort
from kei.hil.wire.protocol import FaultFlag

START, END, READ = 0xDD, 0x77, 0xA5
KELVIN_OFFSET_DECI = 2731
# JBD protection word bit -> kei fault (bits 2 povp / 3 puvp pack voltage, 4 chgot, 5 chgut, 7 dsgut,
# 10 short circuit, 11 AFE, 12 software lock have no kei flag of their own; they still open the FET)
JBD_FAULTS = {0: FaultFlag.OVERVOLTAGE, 1: FaultFlag.UNDERVOLTAGE, 2: FaultFlag.OVERVOLTAGE, 3: FaultFlag.UNDERVOLTAGE,
              4: FaultFlag.OVERTEMPERATURE, 6: FaultFlag.OVERTEMPERATURE, 8: FaultFlag.OVERCURRENT_CHARGE,
              9: FaultFlag.OVERCURRENT_DISCHARGE, 10: FaultFlag.OVERCURRENT_DISCHARGE}


def request(reg: int) -> bytes:
    body = bytes([reg, 0])
    return bytes([START, READ]) + body + struct.pack(">H", (0x10000 - sum(body)) & 0xFFFF) + bytes([END])


def parse_answer(buf: bytearray, reg: int) -> bytes | None:
    """The payload of a good answer for `reg` in `buf`, or None (yet)."""
    while True:
        i = buf.find(bytes([START]))
        if i < 0:
            buf.clear()
            return None
        del buf[:i]
        if len(buf) < 4:
            return None
        need = 4 + buf[3] + 3
        if len(buf) < need:
            return None
        frame = bytes(buf[:need])
        body = frame[2:-3]
        good = frame[-1] == END and struct.unpack(">H", frame[-3:-1])[0] == (0x10000 - sum(body)) & 0xFFFF
        if good and frame[1] == reg and frame[2] == 0:
            del buf[:need]
            return frame[4:-3]
        del buf[:1]


def kei_faults(word: int) -> int:
    flags = 0
    for bit, flag in JBD_FAULTS.items():
        if word & (1 << bit):
            flags |= flag
    return int(flags)


def decode_basic(payload: bytes) -> dict:
    (pack_10mv, current_10ma, remaining_10mah, full_10mah, cycles, date, bal_lo, bal_hi, protection, version, rsoc,
     fets, cells, ntcs) = struct.unpack_from(">HhHHHHHHHBBBBB", payload)
    temps = [(t - KELVIN_OFFSET_DECI) / 10.0 for t in struct.unpack_from(f">{ntcs}H", payload, 23)]
    return {"pack_voltage_v": pack_10mv / 100.0, "current_a": -current_10ma / 100.0,  # JBD: charge positive
            "remaining_ah": remaining_10mah / 100.0, "full_ah": full_10mah / 100.0, "rsoc_percent": rsoc,
            "protection": protection, "charge_fet": bool(fets & 1), "discharge_fet": bool(fets & 2), "cells": cells,
            "temps_c": temps}


def decode_cells(payload: bytes) -> list[float]:
    return [mv / 1000.0 for mv in struct.unpack(f">{len(payload) // 2}H", payload)]


class JbdClient(BmsClient):
    protocol = "jbd"

    def __init__(self, settings, port: str, dbc=None):
        self.settings = settings
        self.port = port
        self.line = SerialPort(port, settings.baudrate, settings.timeout_s)

    def open(self) -> None:
        self.line.open()

    def close(self) -> None:
        self.line.close()

    def _read(self, reg: int) -> bytes:
        for _ in range(self.settings.retries):
            payload = self.line.exchange(request(reg), lambda buf: parse_answer(buf, reg))
            if payload is not None:
                return payload
        raise BmsLinkError(f"{self.port}: JBD BMS: no valid answer to register 0x{reg:02X} in "
                           f"{self.settings.retries} tries of {self.settings.timeout_s:g} s")

    def read(self, cells: bool = False) -> BmsReading:
        b = decode_basic(self._read(0x03))
        volts = decode_cells(self._read(0x04))
        if not volts or not b["temps_c"]:
            raise BmsLinkError(f"{self.port}: JBD BMS reports {len(volts)} cells and {len(b['temps_c'])} sensors")
        lo = min(range(len(volts)), key=volts.__getitem__)
        hi = max(range(len(volts)), key=volts.__getitem__)
        soc = b["remaining_ah"] / b["full_ah"] if b["full_ah"] > 0 else b["rsoc_percent"] / 100.0
        return BmsReading(b["pack_voltage_v"], b["current_a"], soc, volts[lo], volts[hi], lo + 1, hi + 1,
                          max(b["temps_c"]), min(b["temps_c"]), kei_faults(b["protection"]), b["protection"],
                          b["discharge_fet"], cells_v=volts if cells else [])
