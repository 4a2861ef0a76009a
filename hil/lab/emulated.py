"""Start, find and stop the emulated lab bench process (hil/emulator/lab_main.py) for a lab config
whose instrument.resource and bms.port are 'emulator'. Like the kei-protocol emulator, it runs in
its own session, so the emulated battery outlives a killed host and `kei hil resume` finds it."""
from __future__ import annotations

import dataclasses
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kei.hil.errors import DeviceUnavailable
from kei.hil.link.devices import spawn_device

MARKER = b"kei.hil.emulator.lab_main"
PACK_FILE = "lab_pack.json"
LINE_PREFIX = "LAB "


@dataclass
class LabEmulator:
    info: dict                      # what its LAB line said: scpi, bms, pid, ...
    proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return int(self.info["pid"])

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return _is_lab_emulator(self.pid)

    def stop(self, timeout_s: float = 5.0) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self.alive():
                break
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and self.alive():
                time.sleep(0.01)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass


def _is_lab_emulator(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and MARKER in cmdline


def write_pack(log_dir: Path, configure, ocv) -> Path:
    path = Path(log_dir) / PACK_FILE
    path.write_text(json.dumps({"configure": dataclasses.asdict(configure), "ocv_table": dataclasses.asdict(ocv)}))
    return path


def start_lab_emulator(config, pack_file: Path, stderr_path: Path | None = None) -> LabEmulator:
    em = config.emulator
    cmd = [sys.executable, "-m", "kei.hil.emulator.lab_main", "--pack", str(pack_file), "--model",
           config.instrument.model, "--bms", config.bms.protocol, "--clock", em.clock, "--time-scale", f"{em.time_scale!r}",
           "--scpi-latency-ms", f"{em.scpi_latency_ms!r}", "--bms-baud", str(em.bms_baud), "--idle-exit-s",
           f"{em.idle_exit_s:g}"] + (["--fault", em.fault] if em.fault else [])
    proc = spawn_device(cmd, "the lab emulator", stderr_path)
    deadline = time.monotonic() + em.start_timeout_s
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            chunk = os.read(proc.stdout.fileno(), 4096) if left > 0 and sel.select(left) else b""
            if not chunk:  # silent for too long, or exited
                code = proc.poll()
                LabEmulator({"pid": proc.pid}, proc).stop(1.0)
                raise DeviceUnavailable(f"the lab emulator printed no LAB line within {em.start_timeout_s:g} s"
                                        + (f" (exit {code}; see {stderr_path})" if code is not None else ""))
            buf += chunk
    line = buf.split(b"\n", 1)[0].decode("ascii", "replace")
    if not line.startswith(LINE_PREFIX):
        raise DeviceUnavailable(f"the lab emulator printed {line!r}, expected 'LAB {{...}}'")
    return LabEmulator(json.loads(line[len(LINE_PREFIX):]), proc)


def adopt_lab_emulator(events: list[dict]) -> LabEmulator | None:
    """The emulator an earlier host of this session started, if it still runs."""
    for ev in reversed(events):
        if ev.get("event") == "device_started" and ev.get("emulator") == "lab":
            info = ev.get("info") or {}
            if info.get("pid") and _is_lab_emulator(int(info["pid"])) and Path(info.get("bms", "")).exists():
                return LabEmulator(info)
            return None
    return None
