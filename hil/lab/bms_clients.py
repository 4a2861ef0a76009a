"""The BMS telemetry interface the lab session reads, and its backends registered by name:

    jbd   JBD / Xiaoxiang UART boards (pyserial)                    hil/lab/bms_jbd.py
    daly  Daly UART / RS-485 boards (pyserial)                      hil/lab/bms_daly.py
    can   a CAN BMS broadcast, python-can + a DBC read by cantools  hil/lab/bms_can.py

A backend maps its protocol's protection bits to kei's FaultFlag bits (docs/protocol.md), so the
end conditions and the log are the same for every BMS; `raw_flags` keeps what the board said.
Backends are imported on first use (python-can and cantools take a while to import).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

BMS_PROTOCOLS = {
    "jbd": ("kei.hil.lab.bms_jbd", "JbdClient", "JBD / Xiaoxiang UART (9600 8N1)"),
    "daly": ("kei.hil.lab.bms_daly", "DalyClient", "Daly UART / RS-485 (9600 8N1)"),
    "can": ("kei.hil.lab.bms_can", "CanClient", "CAN broadcast decoded with a DBC (python-can, cantools)"),
}


@dataclass
class BmsReading:
    """What a BMS reports, in kei's units and signs (current positive on discharge, SOC 0..1)."""

    pack_voltage_v: float
    current_a: float
    soc: float
    cell_v_min_v: float
    cell_v_max_v: float
    cell_min_index: int
    cell_max_index: int
    temp_max_c: float
    temp_min_c: float
    fault_flags: int              # kei FaultFlag bits
    raw_flags: int                # the protocol's own protection word
    contactor: bool               # discharge path closed (FET / contactor)
    allowed_discharge_a: float | None = None   # only BMSs that report limits (CAN DCL)
    allowed_charge_a: float | None = None
    cells_v: list = field(default_factory=list)  # every cell, when read


class BmsClient:
    """One production BMS on a port. `read(cells)` raises BmsLinkError after `retries` failed tries."""

    protocol: str
    port: str

    def open(self) -> None:
        raise NotImplementedError

    def read(self, cells: bool = False) -> BmsReading:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def bms_client(settings, port: str | None = None, dbc=None) -> BmsClient:
    """The backend for `settings.protocol` (hil/lab/config.py BmsSettings), not yet open."""
    module, cls, _ = BMS_PROTOCOLS[settings.protocol]
    return getattr(importlib.import_module(module), cls)(settings, port or settings.port, dbc=dbc)
