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
    session.lock   held (flock) by the host that has the log open for appending
    *.torn         bytes a repair set aside (never deleted)

Rows are written before the step counts (protocol.md section 6): a host killed at any instant
leaves a log whose last complete row is a step the device applied, and every step the device may
have applied beyond it is within the window, so `kei hil resume` loses nothing and applies nothing
twice. Durability against a power cut: every `flush()` hands the bytes to the OS, an fsync follows
at least every `sync_interval_s` and after every event (docs/hil.md, "Guarantees"). What a power cut
or a kill leaves at the end of a file (a torn last line, a run of zero bytes, trailing lines that do
not parse) is ignored on reading and moved to `<file>.torn` on reopening: a repair never deletes a
complete row.
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import math
import os
import socket
import time
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
LOCK_FILE = "session.lock"
TORN_SUFFIX = ".torn"

# Host side of a step, then the device's telemetry of it.
PLAN_COLUMNS = ("step", "cycle", "cycle_step", "time_s", "dt_s", "trace_speed_mps", "speed_mps", "distance_m",
                "demand_w", "limited", "p_max_w", "wall_s")
TELEMETRY_COLUMNS = ("pack_voltage_v", "pack_current_a", "soc_estimate", "soc_true", "soc_weak_true",
                     "cell_v_min_v", "cell_v_max_v", "temperature_c", "allowed_discharge_a", "allowed_charge_a",
                     "energy_out_wh", "fault_flags", "contactor", "step_count")
STEP_COLUMNS = PLAN_COLUMNS + TELEMETRY_COLUMNS
STEPS_HEADER = ",".join(STEP_COLUMNS) + "\n"
SEQ_MOD = 1 << 16  # wire seq = step mod 65536
INT_COLUMNS = frozenset({"step", "cycle", "cycle_step", "limited", "fault_flags", "contactor", "step_count"})
# Events that come in bursts on a lossy line: synced with the next flush, not one fsync each.
BATCHED_EVENTS = frozenset({"timeout", "frame_error", "bad_message", "bad_telemetry", "fault_frame", "link_stats",
                            "fault_injected"})
READ_CHUNK_BYTES = 1 << 22   # a report streams steps.csv in pieces this large (~10,000 rows)
SCAN_BLOCK_BYTES = 1 << 16   # backwards scan for the end of the last good line


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# repr round-trips a float exactly; ints stay ints; NaN (real hardware has no true SOC) is 'nan'.
_ROW_FORMAT = ",".join(["%r"] * len(STEP_COLUMNS)) + "\n"


def format_row(values) -> str:
    """One steps.csv line from Python ints and floats, in STEP_COLUMNS order."""
    return _ROW_FORMAT % tuple(values)


class LogWriter:
    """Appends rows and events. `flush()` hands the bytes to the OS (they survive the host process
    being killed) and fsyncs them when `sync_interval_s` has passed since the last fsync, or an
    event is waiting (they survive a power cut); `sync_interval_s=None` fsyncs on every flush. One
    `flush()` per batch of telemetry keeps this off the hot path.

    `open()` takes the log's lock (a second host gets a LogError naming the first) and repairs the
    ends of steps.csv and events.jsonl; `repaired` says what it set aside."""

    def __init__(self, directory: Path, sync_interval_s: float | None = None):
        self.dir = Path(directory)
        self.sync_interval_s = sync_interval_s
        self.repaired: list[dict] = []
        self._steps = None
        self._events = None
        self._lock = None
        self._last_sync = time.monotonic()
        self._unsynced_events = False
        self._sync_first: list = []  # companion files that must reach the disk before these do

    @classmethod
    def create(cls, directory: Path, header: dict, design_path: Path, bench_text: str,
               cycle_csv: Path | None = None, sync_interval_s: float | None = None) -> "LogWriter":
        d = Path(directory)
        if (d / HEADER_FILE).exists():
            raise LogError(f"{d}: already holds a session log; resume it with `kei hil resume {d}` or pick another --log")
        try:
            d.mkdir(parents=True, exist_ok=True)
            _write_durable(d / DESIGN_FILE, Path(design_path).read_bytes())
            _write_durable(d / BENCH_FILE, bench_text.encode())
            if cycle_csv is not None:
                _write_durable(d / CYCLE_FILE, Path(cycle_csv).read_bytes())
            _write_durable(d / STEPS_FILE, STEPS_HEADER.encode())
            _write_durable(d / EVENTS_FILE, b"")
            _write_json_atomic(d / HEADER_FILE, header)  # last: a log exists once its header does
            _fsync_dir(d.parent)
        except OSError as err:
            raise LogError(f"{d}: cannot create the session log: {err}") from err
        return cls(d, sync_interval_s).open()

    def open(self) -> "LogWriter":
        self._take_lock()
        try:
            self.repaired = [r for r in (repair_tail(self.dir / STEPS_FILE, _valid_row, STEPS_HEADER.encode()),
                                         repair_tail(self.dir / EVENTS_FILE, _valid_event)) if r]
            self._steps = open(self.dir / STEPS_FILE, "a", buffering=1 << 16)
            self._events = open(self.dir / EVENTS_FILE, "a", buffering=1 << 14)
        except OSError as err:
            self.close()
            raise LogError(f"{self.dir}: cannot open the session log for appending: {err}") from err
        except BaseException:
            self.close()
            raise
        return self

    def _take_lock(self) -> None:
        """An exclusive flock on session.lock for as long as this writer is open. The kernel drops it
        when the process dies (a kill -9 leaves a resumable log), and it is not inherited by device
        processes (Python descriptors are non-inheritable)."""
        path = self.dir / LOCK_FILE
        try:
            fh = open(path, "a+")
        except OSError as err:
            raise LogError(f"{path}: cannot open the session lock: {err}") from err
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise LogError(f"{self.dir}: the session is being run by {holder}; a second host would interleave "
                           "its steps: wait for it to end, or stop it, then resume") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.flush()
        self._lock = fh

    def rows(self, lines: list[str]) -> None:
        self._steps.write("".join(lines))

    def event(self, name: str, /, **fields) -> None:
        """Append an event; it is flushed and fsynced now, or (a burst kind: BATCHED_EVENTS) with the
        next flush()."""
        record = {"t": round(time.time(), 3), "event": name, **fields}
        self._events.write(json.dumps(_clean_json(record), default=_json_default) + "\n")
        self._unsynced_events = True
        if name not in BATCHED_EVENTS:
            self.sync()

    def flush(self) -> None:
        try:
            self._steps.flush()
            self._events.flush()
            now = time.monotonic()
            if (self._unsynced_events or self.sync_interval_s is None
                    or now - self._last_sync >= self.sync_interval_s):
                for sync in self._sync_first:
                    sync()
                os.fsync(self._steps.fileno())
                os.fsync(self._events.fileno())
                self._last_sync = now
                self._unsynced_events = False
        except OSError as err:
            raise LogError(f"{self.dir}: cannot write the session log: {err}") from err

    def sync_first(self, sync) -> None:
        """Call `sync()` (a companion file's flush + fsync) before every fsync of this log."""
        self._sync_first.append(sync)

    def sync(self) -> None:
        """Flush and fsync now."""
        self._last_sync = -math.inf
        self.flush()

    def result(self, result: dict) -> None:
        _write_json_atomic(self.dir / RESULT_FILE, result)

    def close(self) -> None:
        """Flush, fsync, close and release the lock (safe to call twice)."""
        for fh in (self._steps, self._events):
            if fh is not None:
                try:
                    fh.flush()
                    os.fsync(fh.fileno())
                    fh.close()
                except (OSError, ValueError):
                    pass
        self._steps = self._events = None
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None


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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    _write_durable(tmp, (json.dumps(_clean_json(obj), indent=2, default=_json_default) + "\n").encode())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


# ---- damaged ends: what a kill or a power cut leaves ----------------------------------------------
def _valid_row(line: bytes) -> bool:
    parts = line.split(b",")
    if len(parts) != len(STEP_COLUMNS):
        return False
    try:
        for p in parts:
            float(p)
    except ValueError:
        return False
    return True


def _valid_event(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def _rfind_newline(fh, before: int, floor: int) -> int:
    """Offset of the last b'\\n' in [floor, before) of the open file, or floor - 1 if none."""
    pos = before
    while pos > floor:
        start = max(floor, pos - SCAN_BLOCK_BYTES)
        fh.seek(start)
        i = fh.read(pos - start).rfind(b"\n")
        if i >= 0:
            return start + i
        pos = start
    return floor - 1


def good_end(path: Path, valid, header: bytes | None = None) -> tuple[int, int]:
    """(end of the last complete line of `path` that `valid` accepts, file size). Everything after
    it is a damaged tail: bytes after the last newline (a line torn by a kill, zeros a power cut
    left), then complete lines from the end back to the first good one. With a `header`, the file
    must start with it and the end is never before it (0 if the header itself is damaged)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        floor = 0
        if header is not None:
            fh.seek(0)
            if fh.read(len(header)) != header:
                return 0, size
            floor = len(header)
        end = _rfind_newline(fh, size, floor) + 1
        while end > floor:
            start = _rfind_newline(fh, end - 1, floor) + 1
            fh.seek(start)
            if valid(fh.read(end - 1 - start)):
                break
            end = start
        return max(end, floor), size


def repair_tail(path: Path, valid, header: bytes | None = None) -> dict | None:
    """Move the damaged tail of `path` (see good_end) to `<path>.torn` and cut it off; rewrite a
    damaged `header` (there are no rows to lose then). Returns what was set aside, or None."""
    if not path.exists():
        return None
    end, size = good_end(path, valid, header)
    if end == size:
        return None
    if end == 0 and header is not None and good_end(path, valid)[0] > 0:
        raise LogError(f"{path}:1: the header row is damaged but rows follow it: not repaired automatically "
                       f"(the first line must be {header.decode().strip()})")
    with open(path, "rb+") as fh:
        side = path.with_name(path.name + TORN_SUFFIX)
        with open(side, "ab") as out:
            fh.seek(end)
            while chunk := fh.read(READ_CHUNK_BYTES):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        fh.truncate(end)
        if end == 0 and header is not None:
            fh.seek(0)
            fh.write(header)
        fh.flush()
        os.fsync(fh.fileno())
    return {"file": path.name, "moved_bytes": size - end, "kept_bytes": end, "to": side.name}


# ---- reading ----------------------------------------------------------------------------------
class SessionLog:
    """A log read back: header, step columns (numpy arrays, loaded on first use), events, result
    (None if unfinished or unreadable) and `damage`: what reading skipped (a damaged tail of
    steps.csv, event lines that are not JSON, an unreadable result.json)."""

    def __init__(self, dir: Path, header: dict, columns: dict[str, np.ndarray] | None, events: list[dict],
                 result: dict | None, damage: dict | None = None):
        self.dir = Path(dir)
        self.header = header
        self._columns = columns
        self.events = events
        self.result = result
        self.damage = damage or {}

    @property
    def columns(self) -> dict[str, np.ndarray]:
        if self._columns is None:
            chunks = list(iter_step_chunks(self.dir / STEPS_FILE))
            self._columns = {name: (np.concatenate([c[name] for c in chunks]) if chunks else np.zeros(0))
                             for name in STEP_COLUMNS}
        return self._columns

    def step_chunks(self):
        """The step columns in pieces of a few thousand rows (streamed from the file unless loaded)."""
        if self._columns is not None:
            yield self._columns
        else:
            yield from iter_step_chunks(self.dir / STEPS_FILE)

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


def read_log(directory: str | Path, load_steps: bool = True) -> SessionLog:
    """The log in `directory`. `load_steps=False` leaves the rows in the file: `summarize` then
    streams them (a report on a long log needs a few MB, not the whole file in memory)."""
    d = Path(directory)
    header_path = d / HEADER_FILE
    if not header_path.exists():
        raise LogError(f"{d}: not a session log (no {HEADER_FILE})")
    try:
        header = json.loads(header_path.read_text())
    except (OSError, ValueError) as err:
        raise LogError(f"{header_path}: unreadable: {err}") from err
    if not isinstance(header, dict) or header.get("format") != LOG_FORMAT or header.get("version") != LOG_VERSION:
        got = header if not isinstance(header, dict) else (header.get("format"), header.get("version"))
        raise LogError(f"{header_path}: format/version {got!r}, this kei reads {LOG_FORMAT!r} version {LOG_VERSION}")
    damage: dict = {}
    steps = d / STEPS_FILE
    if not steps.exists():
        raise LogError(f"{steps}: missing")
    end, size = good_end(steps, _valid_row, STEPS_HEADER.encode())
    if end == 0:
        raise LogError(f"{steps}:1: header row is not {','.join(STEP_COLUMNS)}")
    if end < size:
        damage["steps_tail_bytes"] = size - end
    events, bad_lines = _read_events(d / EVENTS_FILE)
    if bad_lines:
        damage["event_lines_skipped"] = bad_lines
    result = None
    if (d / RESULT_FILE).exists():
        try:
            result = json.loads((d / RESULT_FILE).read_text())
            if not isinstance(result, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as err:
            result = None
            damage["result"] = f"{RESULT_FILE} unreadable ({err}): ignored, the summary comes from the rows"
    log = SessionLog(d, header, None, events, result, damage)
    if load_steps:
        log.columns  # noqa: B018  (load and check every row now)
    return log


def iter_step_chunks(path: Path, chunk_bytes: int | None = None):
    """steps.csv as dicts of column arrays, a few thousand rows at a time, in order; the damaged
    tail (good_end) is left out. A bad row before it, or steps that are not consecutive, raise
    LogError naming the line."""
    end, _ = good_end(path, _valid_row, STEPS_HEADER.encode())
    chunk_bytes = chunk_bytes or READ_CHUNK_BYTES
    width = len(STEP_COLUMNS)
    line_no = 2          # of the first row of the next chunk
    previous = None      # the last step number so far
    try:
        fh = open(path, "rb")
    except OSError as err:
        raise LogError(f"{path}: unreadable: {err}") from err
    with fh:
        pos = fh.seek(len(STEPS_HEADER))
        while pos < end:
            block = fh.read(min(chunk_bytes, end - pos))
            if pos + len(block) < end:
                block = block[:block.rfind(b"\n") + 1] or block  # whole lines only
            pos += len(block)
            fh.seek(pos)
            arr = _parse_rows(block, path, line_no, width)
            line_no += block.count(b"\n")
            if not len(arr):
                continue
            steps = arr[:, 0]
            jumps = np.nonzero(np.diff(np.concatenate([[steps[0] - 1 if previous is None else previous], steps])) != 1)[0]
            if len(jumps):
                bad = line_no - block.count(b"\n") + int(jumps[0])
                raise LogError(f"{path}:{bad}: step numbers are not consecutive (a step lost or logged twice)")
            previous = steps[-1]
            yield {name: arr[:, i] for i, name in enumerate(STEP_COLUMNS)}


def _parse_rows(block: bytes, path: Path, first_line: int, width: int) -> np.ndarray:
    if not block.strip():
        return np.zeros((0, width))
    try:
        arr = np.loadtxt(io.StringIO(block.decode("ascii")), delimiter=",", ndmin=2, dtype=float)
        if arr.size and arr.shape[1] != width:
            raise ValueError("wrong field count")
        return arr.reshape(-1, width)
    except (ValueError, UnicodeDecodeError):  # find the offending line for the message
        for n, line in enumerate(block.split(b"\n"), start=first_line):
            if not line:
                continue
            parts = line.split(b",")
            if len(parts) != width:
                raise LogError(f"{path}:{n}: {len(parts)} fields, expected {width}") from None
            for x in parts:
                try:
                    float(x)
                except ValueError:
                    raise LogError(f"{path}:{n}: not a number: {x[:40]!r}") from None
        raise LogError(f"{path}:{first_line}: unreadable rows") from None


def _read_events(path: Path) -> tuple[list[dict], list[int]]:
    """Events in order, and the numbers of lines that are not JSON objects (skipped: one damaged line
    must not hide the rest; a torn last line is the usual one)."""
    events, bad = [], []
    try:
        data = path.read_bytes() if path.exists() else b""
    except OSError as err:
        raise LogError(f"{path}: unreadable: {err}") from err
    lines = data.split(b"\n")
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            ev = None
        if isinstance(ev, dict):
            events.append(ev)
        else:
            bad.append(n)
    return events, bad
