"""The Cortex-M firmware image under qemu-system-arm, as a device process (docs/architecture.md, "Device
process contract"; docs/firmware.md, "Running it under QEMU"):

    python3 -m kei.hil.firmware.qemu [--elf PATH | --target NAME] [--tty PATH] [--baud-pace BAUD]
                                     [--idle-exit-s S] [--device-id N] [--unconfigured] [--icount]

QEMU runs the image exactly as built for the board. Its UART0 (the protocol line) and UART1 (the
firmware's console) are socket pairs to this process, which owns the pty the host opens: it keeps the
pty's slave open (a host that closes the port, or dies, finds the device and its state intact),
prints `PORT <path>`, relays bytes between the pty and UART0, and copies the console's lines to
stderr. QEMU's UART has no baud rate timing; with --baud-pace the relay paces both directions like a
UART at BAUD 8N1 (the Python emulator's PacedLine), so the line behaves like the board's. SIGTERM or
SIGINT: QEMU is stopped and the process exits 0; so it does after --idle-exit-s without a byte from
the host. QEMU is started with PR_SET_PDEATHSIG, so a launcher killed outright takes it along.

The device id and the boot flags are written into the image's `boot_args` (its address read from the
ELF) by QEMU's generic loader before the CPU starts. --icount runs QEMU with `-icount shift=0`: one
instruction per nanosecond of virtual time, so the firmware's cycle counter (25 MHz timer) counts
instructions / 40; without it QEMU runs as fast as it can (`-accel tcg,thread=single`, the fastest
for a line that moves one byte at a time).
"""
from __future__ import annotations

import argparse
import ctypes
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import termios
import time
import tty
from pathlib import Path

from kei.hil.emulator.main import PacedLine
from kei.hil.errors import DeviceUnavailable, LinkError
from kei.hil.firmware.elf import read_image
from kei.hil.firmware.targets import TARGETS, build_target, target

QEMU = "qemu-system-arm"
QEMU_HINT = "Debian/Ubuntu: apt-get install qemu-system-arm"
DEFAULT_TARGET = "mps2-an386"
# boot_args in port/mps2_an386/main.c: magic, device id, flags
BOOT_ARGS_SYMBOL = "boot_args"
BOOT_ARGS_MAGIC = 0x4B454942  # "KEIB"
BOOT_FLAG_UNCONFIGURED = 0x1
READ_CHUNK = 1 << 16
MAX_PENDING = 1 << 16     # bytes buffered per direction; beyond, the relay stops reading that side (back-pressure)
POLL_MAX_S = 0.5          # longest sleep, so idle exit, signals and a dead QEMU are noticed promptly
LINK_DOWN_RETRY_S = 0.1   # a --tty whose far end went away: look again this often
# QEMU's UART hands over one byte at a time; the host acts only on whole frames (protocol.md section 2).
# While the device's frame is incomplete the relay polls every GATHER_S instead of waking for each
# byte (a 59-byte TELEMETRY: a few wake-ups instead of 59), and passes on a part that is still
# incomplete after GATHER_MAX_S (garbage, a device that stopped mid-frame) as it is.
GATHER_S = 0.0002
GATHER_MAX_S = 0.002
FRAME_DELIMITER = 0
STATS_WAIT_S = 0.3        # on SIGTERM: how long to wait for the firmware's last statistics line
STOP_TIMEOUT_S = 3.0      # QEMU gets this long to exit on SIGTERM before SIGKILL
_PR_SET_PDEATHSIG = 1     # linux/prctl.h


class _Stop(Exception):
    """Raised by the SIGTERM/SIGINT handler to leave the relay loop."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m kei.hil.firmware.qemu",
                                description="The kei firmware image for a Cortex-M board, under qemu-system-arm, "
                                "on a serial line.")
    add_options(p)
    return p


def add_options(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--elf", metavar="PATH", help="firmware image to run (default: build the target's)")
    which.add_argument("--target", choices=list(TARGETS), default=DEFAULT_TARGET,
                       help=f"build (if needed) and run this target's image (default: {DEFAULT_TARGET})")
    p.add_argument("--tty", metavar="PATH", help="serve this existing tty/pty instead of creating a pty pair")
    p.add_argument("--baud-pace", type=int, metavar="BAUD", default=0,
                   help="pace both directions like a UART at BAUD 8N1; default unpaced (as fast as QEMU runs)")
    p.add_argument("--idle-exit-s", type=float, metavar="S", default=0.0,
                   help="exit when no byte has arrived for S seconds (0 = never, the default)")
    p.add_argument("--device-id", type=lambda s: int(s, 0), metavar="N", default=None,
                   help="device id reported in HELLO_ACK (default: random)")
    p.add_argument("--unconfigured", action="store_true",
                   help="boot without the compiled-in pack configuration (like the Python emulator)")
    p.add_argument("--icount", action="store_true",
                   help="QEMU -icount shift=0: deterministic virtual time, 1 ns per instruction (profiling)")


def qemu_program() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise DeviceUnavailable(f"{QEMU} not found on PATH: the qemu device needs it ({QEMU_HINT})")
    return path


def qemu_argv(program: str, machine: str, elf: Path, uart_fd: int, console_fd: int, boot_args_addr: int,
              device_id: int, flags: int, icount: bool) -> list[str]:
    """The qemu-system-arm command line: the board, its two UARTs on inherited sockets, the boot
    arguments, the image; nothing else (no network, display or monitor)."""
    return [program, "-machine", machine, "-nodefaults", "-display", "none", "-monitor", "none",
            "-chardev", f"socket,id=uart0,fd={uart_fd}", "-serial", "chardev:uart0",
            "-chardev", f"socket,id=console,fd={console_fd}", "-serial", "chardev:console",
            "-device", f"loader,addr={boot_args_addr:#x},data={(device_id << 32) | BOOT_ARGS_MAGIC:#x},data-len=8",
            "-device", f"loader,addr={boot_args_addr + 8:#x},data={flags:#x},data-len=4",
            *(ICOUNT_ARGS if icount else ("-accel", "tcg,thread=single")),
            "-kernel", str(elf)]


ICOUNT_ARGS = ("-icount", "shift=0,align=off,sleep=on")  # 1 ns of virtual time per instruction


def semihosted_argv(program: str, machine: str, elf: Path, *, icount: bool = False) -> list[str]:
    """qemu-system-arm running a semihosted test or profile image (port/mps2_an386/semihost.c): its
    stdout and stderr are QEMU's, its exit status QEMU's exit status."""
    return [program, "-machine", machine, "-nodefaults", "-display", "none", "-monitor", "none",
            "-semihosting-config", "enable=on,target=native", *(ICOUNT_ARGS if icount else ()), "-kernel", str(elf)]


def _die_with_parent() -> None:
    """In QEMU's child process before exec: SIGKILL it when the launcher dies (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def start_qemu(elf: Path, machine: str, *, device_id: int, unconfigured: bool, icount: bool
               ) -> tuple[subprocess.Popen, socket.socket, socket.socket]:
    """QEMU running `elf`; returns it and our ends of the UART0 and console sockets."""
    program = qemu_program()
    image = read_image(elf)
    uart_ours, uart_qemu = socket.socketpair()
    con_ours, con_qemu = socket.socketpair()
    argv = qemu_argv(program, machine, elf, uart_qemu.fileno(), con_qemu.fileno(), image.symbol(BOOT_ARGS_SYMBOL),
                     device_id, BOOT_FLAG_UNCONFIGURED if unconfigured else 0, icount)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr,
                                pass_fds=(uart_qemu.fileno(), con_qemu.fileno()), preexec_fn=_die_with_parent)
    except OSError as err:
        raise DeviceUnavailable(f"cannot start {program}: {err.strerror}") from err
    finally:
        uart_qemu.close()
        con_qemu.close()
    for s in (uart_ours, con_ours):
        s.setblocking(False)
    return proc, uart_ours, con_ours


def open_port(tty_path: str | None) -> tuple[int, int | None, str]:
    """(fd to serve, fd kept open only to hold the pty, path the host opens). Raises LinkError."""
    try:
        if tty_path is None:
            master, slave = os.openpty()
            for fd in (master, slave):
                tty.setraw(fd, termios.TCSANOW)
            os.set_blocking(master, False)
            return master, slave, os.ttyname(slave)
        fd = os.open(tty_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        if os.isatty(fd):
            tty.setraw(fd, termios.TCSANOW)
        return fd, None, tty_path
    except OSError as err:
        raise LinkError(f"{tty_path or 'pty'}: cannot open: {err.strerror}") from err


class Relay:
    """Bytes between the host's port and QEMU's UART0, optionally paced; the console to `log`."""

    def __init__(self, host_fd: int, uart: socket.socket, console: socket.socket, *, baud_pace: int = 0,
                 log=sys.stderr):
        self.host_fd, self.uart, self.console, self.log = host_fd, uart, console, log
        self.rx = PacedLine(baud_pace) if baud_pace > 0 else None  # host -> device, bytes still crossing
        self.tx = PacedLine(baud_pace) if baud_pace > 0 else None  # device -> host
        self.to_device = bytearray()  # finished crossing, not yet accepted by the UART socket
        self.to_host = bytearray()    # finished crossing, not yet accepted by the port
        self.from_uart = bytearray()  # the device's bytes after its last frame delimiter (gathering)
        self.gather_since = 0.0
        self.console_buf = bytearray()
        self.last_stats = ""
        self.last_stats_at = 0.0
        self.last_rx = time.monotonic()
        self.link_down_until = 0.0
        self.uart_closed = False

    def _pending(self, ready: bytearray, line: PacedLine | None) -> int:
        return len(ready) + (len(line.buffer) if line is not None else 0)

    def _arrive(self, data: bytes, ready: bytearray, line: PacedLine | None, now: float) -> None:
        if line is None:
            ready += data
        else:
            line.put(data, now)

    def _finish(self, ready: bytearray, line: PacedLine | None, now: float) -> None:
        if line is not None and line.buffer:
            ready += line.take(line.finished(now))

    def step(self, timeout_s: float) -> None:
        """One round: wait for I/O (at most `timeout_s`), move what can move."""
        now = time.monotonic()
        for line in (self.rx, self.tx):
            if line is not None and line.buffer:
                timeout_s = min(timeout_s, line.wait_s(now))
        read_host = self._pending(self.to_device, self.rx) < MAX_PENDING and now >= self.link_down_until
        if not read_host and now < self.link_down_until:
            timeout_s = min(timeout_s, self.link_down_until - now)
        read_uart = self._pending(self.to_host, self.tx) < MAX_PENDING and not self.uart_closed
        gathering = read_uart and bool(self.from_uart)
        if gathering:
            timeout_s = min(timeout_s, GATHER_S)
        rd = [self.console] + ([self.host_fd] if read_host else []) + ([self.uart] if read_uart and not gathering else [])
        wr = ([self.uart] if self.to_device else []) + ([self.host_fd] if self.to_host else [])
        readable, _, _ = select.select(rd, wr, [], max(0.0, timeout_s))
        now = time.monotonic()
        if self.host_fd in readable:
            self._read_host(now)
        if self.uart in readable or gathering:
            self._read_uart(now)
        if self.console in readable:
            self._read_console()
        now = time.monotonic()
        self._finish(self.to_device, self.rx, now)
        self._finish(self.to_host, self.tx, now)
        if self.to_device:
            try:
                del self.to_device[:self.uart.send(self.to_device)]
            except BlockingIOError:
                pass
        if self.to_host:
            try:
                del self.to_host[:os.write(self.host_fd, self.to_host)]
            except BlockingIOError:
                pass
            except OSError as err:  # a --tty whose far end is gone: keep the bytes (bounded), try again later
                self._link_down(err)

    def _read_uart(self, now: float) -> None:
        try:
            data = self.uart.recv(READ_CHUNK)
        except BlockingIOError:
            data = None
        if data == b"":
            self.uart_closed = True  # QEMU went away; the caller notices it has exited
        if data:
            if not self.from_uart:
                self.gather_since = now
            self.from_uart += data
        end = self.from_uart.rfind(FRAME_DELIMITER) + 1
        if now - self.gather_since >= GATHER_MAX_S or self.uart_closed:
            end = len(self.from_uart)
        if end:
            self._arrive(bytes(self.from_uart[:end]), self.to_host, self.tx, now)
            del self.from_uart[:end]
            self.gather_since = now

    def _read_host(self, now: float) -> None:
        try:
            data = os.read(self.host_fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as err:
            self._link_down(err)
            return
        if not data:
            self._link_down(None)
            return
        self.link_down_until = 0.0
        self.last_rx = now
        self._arrive(data, self.to_device, self.rx, now)

    def final_stats(self) -> str:
        """The firmware's last statistics line: it prints one shortly after the line goes quiet, so
        wait for it (at most STATS_WAIT_S) if bytes have arrived since the last one."""
        deadline = time.monotonic() + STATS_WAIT_S
        while self.last_stats_at < self.last_rx and time.monotonic() < deadline:
            if select.select([self.console], [], [], max(0.0, deadline - time.monotonic()))[0]:
                self._read_console()
        return (f"{self.last_stats or '(none)'}; relay buffers: to device {self._pending(self.to_device, self.rx)} B, "
                f"to host {self._pending(self.to_host, self.tx)} B, gathering {len(self.from_uart)} B")

    def _link_down(self, err: OSError | None) -> None:
        if self.link_down_until == 0.0:
            print(f"kei qemu device: link down ({err.strerror if err else 'end of file'}), waiting", file=self.log,
                  flush=True)
        self.link_down_until = time.monotonic() + LINK_DOWN_RETRY_S

    def _read_console(self) -> None:
        try:
            data = self.console.recv(READ_CHUNK)
        except BlockingIOError:
            return
        self.console_buf += data
        *lines, rest = self.console_buf.split(b"\n")
        self.console_buf = bytearray(rest)
        for raw in lines:
            text = raw.decode("ascii", "replace")
            if " stats " in text:
                self.last_stats, self.last_stats_at = text, time.monotonic()
            print(text, file=self.log, flush=True)


def run(args: argparse.Namespace, out=sys.stdout) -> int:
    def stop(signum, frame):
        raise _Stop

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    proc = relay = None
    fd = holder = None
    try:
        elf = Path(args.elf) if args.elf else build_target(args.target)
        machine = target(args.target).qemu_machine
        device_id = args.device_id if args.device_id is not None else random.getrandbits(32)
        proc, uart, console = start_qemu(elf, machine, device_id=device_id, unconfigured=args.unconfigured,
                                         icount=args.icount)
        fd, holder, path = open_port(args.tty)
        relay = Relay(fd, uart, console, baud_pace=args.baud_pace)
        print(f"PORT {path}", file=out, flush=True)
        while proc.poll() is None:
            now = time.monotonic()
            timeout = POLL_MAX_S
            if args.idle_exit_s > 0:
                if now - relay.last_rx >= args.idle_exit_s:
                    break
                timeout = min(timeout, args.idle_exit_s - (now - relay.last_rx))
            relay.step(timeout)
        else:
            print(f"kei qemu device: {QEMU} exited with status {proc.returncode}", file=sys.stderr)
            return 1
    except _Stop:
        pass
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        stats = relay.final_stats() if relay is not None and proc is not None and proc.poll() is None else None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for f in (fd, holder):
            if f is not None:
                os.close(f)
    print(f"kei qemu device: exit; last console statistics: {stats}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.baud_pace < 0 or args.idle_exit_s < 0:
        print("python3 -m kei.hil.firmware.qemu: --baud-pace and --idle-exit-s must be >= 0", file=sys.stderr)
        return 2
    try:
        return run(args)
    except (DeviceUnavailable, LinkError) as err:  # no image, no QEMU, no port: the device is unavailable
        print(f"python3 -m kei.hil.firmware.qemu: error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
