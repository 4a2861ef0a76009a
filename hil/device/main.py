"""The emulated BMS as a process on a serial line (device process contract, hil-contracts):

    python3 -m hil.device [--tty PATH] [--baud-pace BAUD] [--idle-exit-s S] [--device-id N]

Without --tty it opens a pty pair, sets both ends raw, keeps the slave open too (so a host that
closes the port, or dies, leaves the device and its state intact), prints `PORT <slave path>` and
serves the master. SIGTERM / SIGINT end it with exit status 0.

I/O only; the protocol lives in `device.Device`. Reads are large (os.read of up to 64 KiB), the
answers to everything read at once go out in one os.write. Output never blocks: what the line (or
a pty with nobody reading) cannot take yet waits in a bounded buffer; past the bound the oldest
bytes are dropped, as on a UART whose far end is gone. With --baud-pace the output leaves at most
BAUD/10 bytes per second (8N1), each byte released at its absolute deadline, so no drift accumulates.
"""
from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import termios
import time
import tty

from ..errors import LinkError
from .device import Device

READ_CHUNK = 1 << 16
MAX_PENDING = 1 << 16        # bytes of unsent output kept; beyond, the oldest are dropped
BITS_PER_BYTE_8N1 = 10
POLL_MAX_S = 0.5             # longest sleep, so idle exit and signals are noticed promptly
MIN_WRITE_S = 0.0005         # paced output is released in slices of at least this much line time


class _Stop(Exception):
    """Raised by the SIGTERM/SIGINT handler to leave the serve loop."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m hil.device", description="The kei emulated BMS on a serial line.")
    add_options(p)
    return p


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tty", metavar="PATH", help="serve this existing tty/pty instead of creating a pty pair")
    p.add_argument("--baud-pace", type=int, metavar="BAUD", default=0,
                   help="pace the output like a UART at BAUD 8N1 (BAUD/10 bytes per second); default unpaced")
    p.add_argument("--idle-exit-s", type=float, metavar="S", default=0.0,
                   help="exit when no byte has arrived for S seconds (0 = never, the default)")
    p.add_argument("--device-id", type=lambda s: int(s, 0), metavar="N", default=None,
                   help="device id reported in HELLO_ACK (default: random)")


def open_port(tty_path: str | None) -> tuple[int, int | None, str]:
    """(fd to serve, fd kept open only to hold the pty, path the host opens). Raises LinkError."""
    try:
        if tty_path is None:
            master, slave = os.openpty()
            for fd in (master, slave):
                tty.setraw(fd, termios.TCSANOW)
            return master, slave, os.ttyname(slave)
        fd = os.open(tty_path, os.O_RDWR | os.O_NOCTTY)
        if os.isatty(fd):
            tty.setraw(fd, termios.TCSANOW)
        return fd, None, tty_path
    except OSError as err:
        raise LinkError(f"{tty_path or 'pty'}: cannot open: {err.strerror}") from err


class Pacer:
    """Releases output no faster than `baud` 8N1 against absolute deadlines (time.monotonic)."""

    def __init__(self, baud: int):
        self.byte_s = BITS_PER_BYTE_8N1 / baud
        self.next_done = 0.0  # when the next unsent byte has finished on the line

    def start(self, now: float) -> None:
        """Output became pending: an idle line starts now (no credit for the idle time)."""
        self.next_done = max(self.next_done, now) + self.byte_s

    def due(self, now: float) -> int:
        """Bytes whose transmission has completed by `now`."""
        if now < self.next_done:
            return 0
        return 1 + int((now - self.next_done) / self.byte_s)

    def sent(self, n: int) -> None:
        self.next_done += n * self.byte_s

    def wait_s(self, now: float, pending: int) -> float:
        """Sleep until the next slice of output is due."""
        slice_bytes = max(1, int(MIN_WRITE_S / self.byte_s))
        return max(0.0, self.next_done + (min(slice_bytes, pending) - 1) * self.byte_s - now)


def serve(fd: int, device: Device, *, baud_pace: int = 0, idle_exit_s: float = 0.0) -> None:
    """Answer frames on `fd` until _Stop (a signal) or `idle_exit_s` of silence."""
    os.set_blocking(fd, False)
    pacer = Pacer(baud_pace) if baud_pace > 0 else None
    pending = bytearray()
    poller = select.poll()
    last_rx = time.monotonic()
    while True:
        now = time.monotonic()
        timeout = POLL_MAX_S
        if idle_exit_s > 0:
            if now - last_rx >= idle_exit_s:
                return
            timeout = min(timeout, idle_exit_s - (now - last_rx))
        if pending and pacer is not None:
            timeout = min(timeout, pacer.wait_s(now, len(pending)))
        events = select.POLLIN | (select.POLLOUT if pending and pacer is None else 0)
        poller.register(fd, events)
        ready = poller.poll(timeout * 1000.0)
        flags = ready[0][1] if ready else 0
        if flags & select.POLLIN:
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                data = b""
            except OSError as err:  # a real serial port that went away
                raise LinkError(f"read failed: {err.strerror}") from err
            if data:
                last_rx = time.monotonic()
                answer = device.feed(data)
                if answer:
                    if not pending and pacer is not None:
                        pacer.start(time.monotonic())
                    pending += answer
        elif flags & (select.POLLHUP | select.POLLERR) and not flags & select.POLLOUT:
            time.sleep(0.01)  # nobody on the far end (only possible with --tty): wait for one
        if pending:
            n = len(pending) if pacer is None else pacer.due(time.monotonic())
            if n:
                try:
                    written = os.write(fd, pending[:n])
                except BlockingIOError:
                    written = 0
                except OSError as err:
                    raise LinkError(f"write failed: {err.strerror}") from err
                del pending[:written]
                if pacer is not None:
                    pacer.sent(written)
            if len(pending) > MAX_PENDING:
                del pending[:len(pending) - MAX_PENDING]


def run(args: argparse.Namespace, out=sys.stdout) -> int:
    def stop(signum, frame):
        raise _Stop

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    fd, holder, path = open_port(args.tty)
    device = Device(args.device_id)
    try:
        print(f"PORT {path}", file=out, flush=True)
        serve(fd, device, baud_pace=args.baud_pace, idle_exit_s=args.idle_exit_s)
    except _Stop:
        pass
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        for f in (fd, holder):
            if f is not None:
                os.close(f)
    errors = device.frame_errors
    print(f"kei-py device {device.device_id:#010x}: {device.decoder.frames_ok} frames, "
          f"{sum(errors.values())} bad ({', '.join(f'{k} {v}' for k, v in errors.items())}), "
          + ", ".join(f"{k} {v}" for k, v in device.counters.items()), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.baud_pace < 0 or args.idle_exit_s < 0:
        print("python3 -m hil.device: --baud-pace and --idle-exit-s must be >= 0", file=sys.stderr)
        return 2
    try:
        return run(args)
    except LinkError as err:
        print(f"python3 -m hil.device: error: {err}", file=sys.stderr)
        return 2
