"""Where the device is and how to get it back: a port URL or an emulator process, with the fault
layer on top if asked. `reconnect()` after a LinkLost waits for the port to come back (a replugged
cable, a fault-injected disconnect) or, for an emulator whose process died (a device reset),
starts a new one; the session then finds out from HELLO whether the device kept its state. How
often in a row that may happen is the session's call (`link.recoveries_without_progress`):
`device_gone()` tells it why an emulator went away, with the last line it wrote to its log.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kei.hil.errors import DeviceUnavailable, LinkError
from kei.hil.link.devices import DeviceProcess, adopt_emulator, start_emulator
from kei.hil.link.faults import FaultSpec, FaultyTransport
from kei.hil.link.transport import SerialTransport, Transport
from kei.hil.setup.bench_config import BenchConfig

EXIT_GRACE_S = 0.5  # how long a device whose link dropped may take to finish exiting (a loaded machine)


class Connection:
    def __init__(self, config: BenchConfig, *, port: str | None = None, emulator: str | None = None,
                 device: DeviceProcess | None = None, inject: FaultSpec | None = None,
                 device_log: Path | None = None, baud_pace: int | None = None):
        if (port is None) == (emulator is None):
            raise LinkError("give exactly one of a port (--port) and an emulator (--emulator)")
        self.config = config
        self.emulator_kind = emulator
        self.device = device
        self.inject = inject
        self.device_log = device_log
        self.baud_pace = baud_pace
        self.port = port
        self.emulator_starts = 0
        self.serial: SerialTransport | None = None
        self.transport: Transport | None = None
        self.faults: FaultyTransport | None = None

    def describe(self) -> dict:
        out = {"port": self.port, "emulator": self.emulator_kind}
        if self.device is not None:
            out.update(self.device.describe())
        return out

    def _start_emulator(self) -> None:
        em = self.config.emulator
        self.device = start_emulator(self.emulator_kind, idle_exit_s=em.idle_exit_s, start_timeout_s=em.start_timeout_s,
                                     baud_pace=self.baud_pace, stderr_path=self.device_log)
        self.emulator_starts += 1
        self.port = self.device.port

    def open(self) -> Transport:
        if self.emulator_kind is not None and (self.device is None or not self.device.alive()):
            self._start_emulator()
        elif self.device is not None:
            self.port = self.device.port
        link = self.config.link
        self.serial = SerialTransport(self.port, baudrate=link.baudrate, write_timeout_s=link.write_timeout_s).open()
        if self.inject is not None and self.inject.active:
            if self.faults is None:
                self.faults = FaultyTransport(self.serial, self.inject)
            else:  # the layer and its schedule survive a new port
                self.faults.inner, self.faults.name = self.serial, self.serial.name
            self.transport = self.faults
        else:
            self.transport = self.serial
        return self.transport

    def device_gone(self) -> str | None:
        """Why the emulator this connection started is gone (None: there is none, or it runs)."""
        dev = self.device
        if dev is None:
            return None
        if dev.proc is not None and dev.alive():
            # A device that dies closes its pty while its exit is still under way: the host can see
            # the link drop a moment before the process is reaped. Give it that moment.
            try:
                dev.proc.wait(timeout=EXIT_GRACE_S)
            except subprocess.TimeoutExpired:
                return None
        if dev.alive():
            return None
        last = _last_line(self.device_log) if self.device_log is not None else None
        return f"the {dev.kind} emulator (pid {dev.pid}) {dev.exit_description()}" + (f": {last}" if last else "")

    def reconnect(self) -> Transport:
        """Get the link back; LinkError when it is not back within `link.reconnect_timeout_s`."""
        link = self.config.link
        deadline = time.monotonic() + link.reconnect_timeout_s
        restarted = False
        while True:
            try:
                if self.emulator_kind is not None and (self.device is None or not self.device.alive()):
                    if restarted:  # one restart per reconnect: the session caps how many in a row
                        raise DeviceUnavailable(f"{self.device_gone()} right after it was restarted")
                    if self.device is not None:
                        self.device.stop(0.1)  # reap it
                    if self.serial is not None:
                        self.serial.close()
                    restarted = True
                if restarted:
                    return self.open()
                self.transport.reopen()
                return self.transport
            except LinkError as err:
                if time.monotonic() >= deadline:
                    raise LinkError(f"{self.port}: link lost and not back within {link.reconnect_timeout_s:g} s "
                                    f"({err})") from err
                time.sleep(link.reconnect_interval_s)

    def close(self, stop_device: bool) -> None:
        if self.transport is not None:
            try:
                self.transport.close()
            except LinkError:
                pass
        if stop_device and self.device is not None:
            self.device.stop(self.config.emulator.stop_timeout_s)


def _last_line(path: Path, tail_bytes: int = 4096) -> str | None:
    """The last non-empty line of a device's stderr log (a traceback's last line names the error)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, 2) - tail_bytes))
            lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return None
    return lines[-1][:300] if lines else None


def find_device(kind: str, events: list[dict]) -> DeviceProcess | None:
    """The emulator an earlier host of this session started, if it still runs (from the log's events)."""
    for ev in reversed(events):
        if ev.get("event") == "device_started" and ev.get("emulator") == kind:
            return adopt_emulator(kind, int(ev.get("pid") or 0), str(ev.get("port") or ""))
    return None
