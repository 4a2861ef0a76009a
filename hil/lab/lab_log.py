"""lab.csv: what a lab step has beyond steps.csv (hil/log/session_log.py, unchanged): the current the
host commanded, whether a regen step was skipped (the instrument cannot source), and what the BMS
itself reported. One row per step, written and flushed *before* the steps.csv row of the same step,
so it is never behind; a resume cuts rows beyond the last step of steps.csv."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kei.hil.errors import LogError

LAB_FILE = "lab.csv"
LAB_COLUMNS = ("step", "setpoint_a", "regen_skipped", "bms_pack_voltage_v", "bms_current_a", "bms_soc",
               "temp_min_c", "cell_min_index", "cell_max_index", "bms_raw_flags")
_ROW = ",".join(["%r"] * len(LAB_COLUMNS)) + "\n"


class LabLog:
    def __init__(self, directory: Path):
        self.path = Path(directory) / LAB_FILE
        self._fh = None

    def open(self, last_step: int | None = None) -> "LabLog":
        """Append; with `last_step`, first drop rows after it (and a torn last line)."""
        try:
            if not self.path.exists():
                self.path.write_text(",".join(LAB_COLUMNS) + "\n")
            elif last_step is not None:
                lines = self.path.read_text().split("\n")
                keep = [lines[0]] + [ln for ln in lines[1:] if ln and ln.count(",") == len(LAB_COLUMNS) - 1
                                     and int(ln.split(",", 1)[0]) <= last_step]
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text("\n".join(keep) + "\n")
                os.replace(tmp, self.path)
            self._fh = open(self.path, "a", buffering=1 << 16)
        except (OSError, ValueError) as err:
            raise LogError(f"{self.path}: cannot open: {err}") from err
        return self

    def row(self, values) -> None:
        self._fh.write(_ROW % tuple(values))

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as err:
            raise LogError(f"{self.path}: cannot write: {err}") from err

    def sync(self) -> None:
        """Flush and fsync (a power cut keeps what was synced); closed, it was synced by close()."""
        if self._fh is None:
            return
        self.flush()
        try:
            os.fsync(self._fh.fileno())
        except OSError as err:
            raise LogError(f"{self.path}: cannot write: {err}") from err

    def close(self) -> None:
        if self._fh is not None:
            try:
                self.sync()
            except LogError:
                pass  # the session reports its log error; closing must still release the file
            try:
                self._fh.close()
            except OSError:
                pass
        self._fh = None


def read_lab_log(directory: Path) -> dict[str, np.ndarray]:
    path = Path(directory) / LAB_FILE
    try:
        lines = [ln for ln in path.read_text().split("\n")[1:] if ln.count(",") == len(LAB_COLUMNS) - 1]
    except OSError as err:
        raise LogError(f"{path}: unreadable: {err}") from err
    arr = np.array([[float(x) for x in ln.split(",")] for ln in lines], dtype=float).reshape(-1, len(LAB_COLUMNS))
    return {name: arr[:, i] for i, name in enumerate(LAB_COLUMNS)}
