"""The session log: a directory that holds everything needed to judge a run and to resume it.

    session.json   header, written once: design (path, sha256), cycle, link, pacing, fault spec,
                   bench settings, predicted range, versions
    design.toml    the design file as it was (a resume never depends on the original path)
    bench.toml     the bench settings used
    cycle.csv      the cycle, when it came from a user's CSV file
    steps.csv      one row per step (row 0: the device's state before the first step), appended and
                   flushed as the telemetry arrives; floats written with repr (exact round trip)
    events.jsonl   link and session events (connect, hello, retry, crc errors, reconnect, fault,
                   end, interrupted, resume ...), one JSON object per line
    result.json    the summary, written when the run ends

Rows are written before the step counts (protocol.md section 6): a host killed at any instant
leaves a log whose last complete row is a step the device applied, and every step the device may
have applied beyond it is within the window, so `kei hil resume` loses nothing and applies nothing
twice. A torn last line (killed mid-write) is ignored on reading and cut off on resume.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kei.hil.errors import LogError
from kei.hil.wire.protocol import Telemetry

LOG_FORMAT = "kei-hil-log"
LOG_VERSION = 1
HEADER_FILE = "session.json"
DESIGN_FILE = "design.toml"
BENCH_FILE = "bench.toml"
CYCLE_FILE = "cycle.csv"
STEPS_FILE = "steps.csv"
EVENTS_FILE = "events.jsonl"
RESULT_FILE = "result.json"

# Host side of a step, then the device's telemetry of it.
PLAN_COLUMNS = ("step", "cycle", "cycle_step", "time_s", "dt_s", "trace_speed_mps", "speed_mps", "distance_m",
                "demand_w", "limited", "p_max_w", "wall_s")
TELEMETRY_COLUMNS = ("pack_voltage_v", "pack_current_a", "soc_estimate", "soc_true", "soc_weak_true",
                     "cell_v_min_v", "cell_v_max_v", "temperature_c", "allowed_discharge_a", "allowed_charge_a",
                     "energy_out_wh", "fault_flags", "contactor", "step_count")
STEP_COLUMNS = PLAN_COLUMNS + TELEMETRY_COLUMNS
SEQ_MOD = 1 << 16  # wire seq = step mod 65536
INT_COLUMNS = frozenset({"step", "cycle", "cycle_step", "limited", "fault_flags", "contactor", "step_count"})


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# repr round-trips a float exactly; ints stay ints; NaN (real hardware has no true SOC) is 'nan'.
_ROW_FORMAT = ",".join(["%r"] * len(STEP_COLUMNS)) + "\n"


def format_row(values) -> str:
    """One steps.csv line from Python ints and floats, in STEP_COLUMNS order."""
    return _ROW_FORMAT % tuple(values)


class LogWriter:
    """Appends rows and events; every `flush()` hands the bytes to the OS (they survive the host
    process being killed). One `flush()` per batch of telemetry keeps this off the hot path."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self._steps = None
        self._events = None

    @classmethod
    def create(cls, directory: Path, header: dict, design_path: Path, bench_text: str,
               cycle_csv: Path | None = None) -> "LogWriter":
        d = Path(directory)
        if (d / HEADER_FILE).exists():
            raise LogError(f"{d}: already holds a session log; resume it with `kei hil resume {d}` or pick another --log")
        try:
            d.mkdir(parents=True, exist_ok=True)
            (d / DESIGN_FILE).write_bytes(Path(design_path).read_bytes())
            (d / BENCH_FILE).write_text(bench_text)
            if cycle_csv is not None:
                (d / CYCLE_FILE).write_bytes(Path(cycle_csv).read_bytes())
            _write_json_atomic(d / HEADER_FILE, header)
            (d / STEPS_FILE).write_text(",".join(STEP_COLUMNS) + "\n")
            (d / EVENTS_FILE).touch()
        except OSError as err:
            raise LogError(f"{d}: cannot create the session log: {err}") from err
        return cls(d).open()

    def open(self) -> "LogWriter":
        try:
            _cut_torn_line(self.dir / STEPS_FILE)
            _cut_torn_line(self.dir / EVENTS_FILE)
            self._steps = open(self.dir / STEPS_FILE, "a", buffering=1 << 16)
            self._events = open(self.dir / EVENTS_FILE, "a", buffering=1 << 14)
        except OSError as err:
            raise LogError(f"{self.dir}: cannot open the session log for appending: {err}") from err
        return self

    def rows(self, lines: list[str]) -> None:
        self._steps.write("".join(lines))

    def event(self, name: str, /, **fields) -> None:
        record = {"t": round(time.time(), 3), "event": name, **fields}
        self._events.write(json.dumps(record, default=_json_default) + "\n")

    def flush(self) -> None:
        try:
            self._steps.flush()
            self._events.flush()
        except OSError as err:
            raise LogError(f"{self.dir}: cannot write the session log: {err}") from err

    def result(self, result: dict) -> None:
        _write_json_atomic(self.dir / RESULT_FILE, result)

    def close(self) -> None:
        """Flush and close (safe to call twice)."""
        for fh in (self._steps, self._events):
            if fh is not None:
                try:
                    fh.close()
                except OSError:
                    pass
        self._steps = self._events = None


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _clean_json(obj):
    """NaN/inf are not JSON: they become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_json(v) for v in obj]
    return obj


def _write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_clean_json(obj), indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def _cut_torn_line(path: Path) -> None:
    """Drop a partial last line (the host was killed in the middle of a write)."""
    with open(path, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(max(0, size - 4096))
        tail = fh.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        fh.truncate(size - len(tail) + cut + 1 if cut >= 0 else 0)


# ---- reading ----------------------------------------------------------------------------------
@dataclass
class SessionLog:
    """A log read back: header, step columns (numpy arrays), events, result (None if unfinished)."""

    dir: Path
    header: dict
    columns: dict[str, np.ndarray]
    events: list[dict]
    result: dict | None

    @property
    def rows(self) -> int:
        return len(self.columns["step"])

    @property
    def last_step(self) -> int:
        return int(self.columns["step"][-1]) if self.rows else -1

    def row(self, index: int) -> dict:
        """One row as a dict of Python values (index -1: the last)."""
        return {k: (int(v[index]) if k in INT_COLUMNS else float(v[index])) for k, v in self.columns.items()}

    def telemetry(self, index: int) -> Telemetry:
        """One row's telemetry as the TELEMETRY message it was logged from."""
        row = self.row(index)
        return Telemetry(seq=row["step"] % SEQ_MOD, **{k: row[k] for k in TELEMETRY_COLUMNS})


def read_log(directory: str | Path) -> SessionLog:
    d = Path(directory)
    header_path = d / HEADER_FILE
    if not header_path.exists():
        raise LogError(f"{d}: not a session log (no {HEADER_FILE})")
    try:
        header = json.loads(header_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise LogError(f"{header_path}: unreadable: {err}") from err
    if header.get("format") != LOG_FORMAT or header.get("version") != LOG_VERSION:
        raise LogError(f"{header_path}: format {header.get('format')!r} version {header.get('version')!r}, "
                       f"this kei reads {LOG_FORMAT!r} version {LOG_VERSION}")
    columns = _read_steps(d / STEPS_FILE)
    events = _read_events(d / EVENTS_FILE)
    result = None
    if (d / RESULT_FILE).exists():
        try:
            result = json.loads((d / RESULT_FILE).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise LogError(f"{d / RESULT_FILE}: unreadable: {err}") from err
    return SessionLog(d, header, columns, events, result)


def _read_steps(path: Path) -> dict[str, np.ndarray]:
    try:
        text = path.read_text()
    except OSError as err:
        raise LogError(f"{path}: unreadable: {err}") from err
    lines = text.split("\n")
    if lines and lines[-1] != "":
        lines = lines[:-1]  # a torn last line: the host died while writing it
    lines = [ln for ln in lines if ln]
    if not lines or tuple(lines[0].split(",")) != STEP_COLUMNS:
        raise LogError(f"{path}:1: header row is not {','.join(STEP_COLUMNS)}")
    width = len(STEP_COLUMNS)
    body = lines[1:]
    fields = ",".join(body).split(",") if body else []
    try:
        if len(fields) != width * len(body):
            raise ValueError("wrong field count")
        arr = np.array(list(map(float, fields)), dtype=float).reshape(-1, width)
    except ValueError:  # find the offending line for the message
        for n, line in enumerate(body, start=2):
            parts = line.split(",")
            if len(parts) != width:
                raise LogError(f"{path}:{n}: {len(parts)} fields, expected {width}") from None
            try:
                [float(x) for x in parts]
            except ValueError as err:
                raise LogError(f"{path}:{n}: {err}") from None
        raise
    steps = arr[:, 0]
    if len(steps) and np.any(np.diff(steps) != 1):
        bad = int(np.nonzero(np.diff(steps) != 1)[0][0]) + 3
        raise LogError(f"{path}:{bad}: step numbers are not consecutive (a step lost or logged twice)")
    return {name: arr[:, i] for i, name in enumerate(STEP_COLUMNS)}


def _read_events(path: Path) -> list[dict]:
    events = []
    try:
        lines = path.read_text().split("\n") if path.exists() else []
    except OSError as err:
        raise LogError(f"{path}: unreadable: {err}") from err
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            if n == len(lines):  # torn last line
                break
            raise LogError(f"{path}:{n}: not JSON") from None
    return events
