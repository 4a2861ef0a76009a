"""kei's client for a CAN BMS broadcast: python-can receives, cantools decodes with the DBC
(configs/lab/kei_bms.dbc by default), independently of the emulator's hand-packed frames.

A broadcast is the frames BMS_Pack, BMS_Limits and BMS_Cells with the same rolling counter (plus one
BMS_CellVoltages frame, round robin). `read()` drains the bus and returns the newest complete set
that arrived since the previous read, waiting up to `timeout_s` x `retries` for one. The BMS
reports its own limits (DCL / CCL), which the session uses instead of its own derating.
"""
from __future__ import annotations

import time

from kei.hil.errors import BmsLinkError
from kei.hil.lab.bms_clients import BmsClient, BmsReading

SET = ("BMS_Pack", "BMS_Limits", "BMS_Cells")
CELLS_PER_FRAME = 3


class CanClient(BmsClient):
    protocol = "can"

    def __init__(self, settings, port: str, dbc=None):
        import cantools

        self.settings = settings
        self.port = settings.can_channel or port
        self.db = cantools.database.load_file(str(dbc))
        self.bus = None
        self._partial: dict[int, dict] = {}
        self._cells: dict[int, float] = {}

    def open(self) -> None:
        import can

        kwargs = {"sleep_after_open": 0.0} if self.settings.can_interface == "slcan" else {}
        try:
            self.bus = can.Bus(interface=self.settings.can_interface, channel=self.port,
                               bitrate=self.settings.can_bitrate, **kwargs)
        except (can.CanError, OSError, ValueError) as err:
            raise BmsLinkError(f"{self.port}: cannot open the CAN bus ({self.settings.can_interface}): {err}") from err

    def close(self) -> None:
        bus, self.bus = self.bus, None
        if bus is not None:
            try:
                bus.shutdown()
            except Exception:  # a dead adapter must not hide why it died
                pass

    def _take(self, msg) -> dict | None:
        """Feed one frame; a complete set when this frame completes one."""
        try:
            m = self.db.get_message_by_frame_id(msg.arbitration_id)
        except KeyError:
            return None
        values = m.decode(msg.data, decode_choices=False)
        if m.name == "BMS_CellVoltages":
            base = int(values["CellFrame"]) * CELLS_PER_FRAME
            for k in range(CELLS_PER_FRAME):
                self._cells[base + k + 1] = values[f"CellV{k + 1}"]
            return None
        if m.name not in SET:
            return None
        group = self._partial.setdefault(int(values["Counter"]), {})
        group[m.name] = values
        if all(name in group for name in SET):
            self._partial.clear()
            return group
        return None

    def read(self, cells: bool = False) -> BmsReading:
        import can

        if self.bus is None:
            raise BmsLinkError(f"{self.port}: CAN bus is closed")
        newest = None
        deadline = time.monotonic() + self.settings.timeout_s * self.settings.retries
        try:
            while True:
                wait = 0.0 if newest is not None else deadline - time.monotonic()
                if wait < 0:
                    break
                msg = self.bus.recv(timeout=wait)
                if msg is None:
                    if newest is not None:
                        break
                    continue
                got = self._take(msg)
                if got is not None:
                    newest = got
        except (can.CanError, OSError, ValueError) as err:
            raise BmsLinkError(f"{self.port}: CAN bus lost: {err}") from err
        if newest is None:
            raise BmsLinkError(f"{self.port}: no complete BMS broadcast ({', '.join(SET)}) within "
                               f"{self.settings.timeout_s * self.settings.retries:g} s")
        p, lim, c = newest["BMS_Pack"], newest["BMS_Limits"], newest["BMS_Cells"]
        count = int(c["CellCount"])
        cells_v = [self._cells.get(i, float("nan")) for i in range(1, count + 1)] if cells else []
        return BmsReading(p["PackVoltage"], p["PackCurrent"], p["SOC"] / 100.0, c["CellVMin"], c["CellVMax"],
                          int(c["CellMinIndex"]), int(c["CellMaxIndex"]), lim["TempMax"], float(lim["TempMin"]),
                          int(p["FaultFlags"]), int(p["FaultFlags"]), bool(p["Contactor"]),
                          allowed_discharge_a=lim["DCL"], allowed_charge_a=lim["CCL"], cells_v=cells_v)
