"""Start, find and stop device processes by name (docs/architecture.md, "Device process contract").

A device kind is registered by name (`register_device`) with the command that starts its process and
the marker that identifies that process later; the bench, `kei hil run --emulator NAME` and the
tests only ever name it:

    python    python3 -m kei.hil.emulator            (the emulated BMS, hil/emulator/)
    firmware  <build dir>/kei_bms_host               (the C stub; `make` first, which is incremental)
    qemu      python3 -m kei.hil.firmware.qemu --elf <build dir>/mps2_an386/kei_bms.elf
                                                     (the Cortex-M4 image under qemu-system-arm; built first)

The process opens a pty pair, prints `PORT <path>` and serves it. It runs in its own session
(start_new_session), so a Ctrl-C or a kill of the host does not take it down: a host that dies
mid-run finds the device, and its state, intact when `kei hil resume` comes back. It exits by
itself after `idle_exit_s` without a byte, so an abandoned one never leaks for long.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kei.errors import UsageError
from kei.hil.errors import BenchError, DeviceUnavailable
from kei.hil.firmware.build import ensure_host_binary
from kei.hil.firmware.qemu import DEFAULT_TARGET, qemu_program
from kei.hil.firmware.targets import build_target

PORT_PREFIX = "PORT "


@dataclass(frozen=True)
class DeviceKind:
    """A kind of device process that keeps the device process contract."""

    name: str
    command: Callable[[], list[str]]  # argv that starts it (may build it first)
    marker: bytes                     # in /proc/<pid>/cmdline: a recorded pid may have been reused
    description: str


DEVICE_KINDS: dict[str, DeviceKind] = {}


def register_device(kind: DeviceKind) -> None:
    DEVICE_KINDS[kind.name] = kind


def device_kind(name: str) -> DeviceKind:
    try:
        return DEVICE_KINDS[name]
    except KeyError:
        raise UsageError("--emulator", f"unknown emulator {name!r} (known: {', '.join(DEVICE_KINDS)})") from None


register_device(DeviceKind("python", lambda: [sys.executable, "-m", "kei.hil.emulator"], b"kei.hil.emulator",
                           "the emulated BMS in Python (hil/emulator/)"))
# make is incremental: a no-op when nothing changed
register_device(DeviceKind("firmware", lambda: [str(ensure_host_binary())], b"kei_bms_host",
                           "the C firmware stub built for this host (firmware_stubs/)"))


def _qemu_command() -> list[str]:
    qemu_program()  # missing QEMU or toolchain: DeviceUnavailable here, naming the package, not a silent exit
    return [sys.executable, "-m", "kei.hil.firmware.qemu", "--elf", str(build_target(DEFAULT_TARGET))]


register_device(DeviceKind("qemu", _qemu_command, b"kei.hil.firmware.qemu",
                           f"the firmware cross-built for a Cortex-M4 board ({DEFAULT_TARGET}), run by qemu-system-arm"))


@dataclass
class DeviceProcess:
    """A running device process and the port it serves. `proc` is None for a process started by an
    earlier host (adopted on resume): it is not our child, so it is watched through its pid."""

    kind: str
    port: str
    pid: int
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return _pid_is_device(self.pid, self.kind)

    def describe(self) -> dict:
        return {"emulator": self.kind, "port": self.port, "pid": self.pid}

    def exit_description(self) -> str:
        """How the process ended, for messages ("exited with status 1", "was killed by SIGSEGV")."""
        code = self.proc.poll() if self.proc is not None else None
        if code is None:
            return "is gone" if not self.alive() else "is running"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with status {code}"

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s` (the contract: exit promptly on SIGTERM)."""
        if not self.alive():
            self._reap()
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and self.alive():
                time.sleep(0.01)
            if not self.alive():
                break
        self._reap()

    def _reap(self) -> None:
        if self.proc is not None:
            try:
                self.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass


def _pid_is_device(pid: int, kind: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and kind in DEVICE_KINDS and DEVICE_KINDS[kind].marker in cmdline


def device_command(kind: str) -> list[str]:
    return device_kind(kind).command()


def spawn_device(cmd: list[str], what: str, stderr_path: Path | None) -> subprocess.Popen:
    """Start a device program in its own session (a Ctrl-C to the host is not also sent to the device,
    which must outlive it for a resume), stdout piped for its PORT line, stderr appended to a file."""
    stderr = open(stderr_path, "ab") if stderr_path else subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                                start_new_session=True)
    except OSError as err:
        raise DeviceUnavailable(f"cannot start {what} ({' '.join(cmd)}): {err}") from err
    finally:
        if stderr_path:
            stderr.close()


def start_emulator(kind: str, *, idle_exit_s: float, start_timeout_s: float, baud_pace: int | None = None,
                   device_id: int | None = None, stderr_path: Path | None = None,
                   extra_args: tuple[str, ...] = ()) -> DeviceProcess:
    """Start a device process and wait for its `PORT <path>` line."""
    cmd = device_command(kind) + ["--idle-exit-s", f"{idle_exit_s:g}"]
    if baud_pace:
        cmd += ["--baud-pace", str(int(baud_pace))]
    if device_id is not None:
        cmd += ["--device-id", str(int(device_id))]
    cmd += list(extra_args)
    proc = spawn_device(cmd, f"the {kind} emulator", stderr_path)
    try:
        port = _read_port_line(proc, start_timeout_s)
    except BenchError:
        DeviceProcess(kind, "", proc.pid, proc).stop(1.0)
        raise
    return DeviceProcess(kind, port, proc.pid, proc)


def _read_port_line(proc: subprocess.Popen, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceUnavailable(f"device process {proc.args[0]} printed no PORT line within {timeout_s:g} s")
            if sel.select(left):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    code = proc.wait(timeout=1.0)
                    raise DeviceUnavailable(f"device process {' '.join(map(str, proc.args))} exited ({code}) before "
                                     f"printing its PORT line")
                buf += chunk
    line = buf.split(b"\n", 1)[0].decode("ascii", "replace").strip()
    if not line.startswith(PORT_PREFIX):
        raise DeviceUnavailable(f"device process printed {line!r}, expected 'PORT <path>'")
    # The contract: nothing more on stdout. Our end of the pipe stays open (a closed pipe would
    # make a later stray print fail in the device) and is closed with the DeviceProcess.
    return line[len(PORT_PREFIX):].strip()


def adopt_emulator(kind: str, pid: int, port: str) -> DeviceProcess | None:
    """The device process an earlier host started, if it is still running and still serves `port`."""
    if pid and _pid_is_device(pid, kind) and Path(port).exists():
        return DeviceProcess(kind, port, pid, None)
    return None
