"""The emulated BMS as a process on a serial line (device process contract, docs/architecture.md):

    python3 -m kei.hil.emulator.main [--tty PATH] [--baud-pace BAUD] [--idle-exit-s S] [--device-id N]

Without --tty it opens a pty pair, sets both ends raw, keeps the slave open too (so a host that
closes the port, or dies, leaves the device and its state intact), prints `PORT <slave path>` and
serves the master. SIGTERM / SIGINT end it with exit status 0.

I/O only; the protocol lives in `device.Device`. Reads are large (os.read of up to 64 KiB), the
answers to everything read at once go out in one os.write. Output never blocks: what the line (or
a pty with nobody reading) cannot take yet waits in a bounded buffer; past the bound the oldest
bytes are dropped, as on a UART whose far end is gone. With --baud-pace the pty behaves like a
full-duplex UART at BAUD 8N1 in both directions (class PacedLine): the device sees each byte from
the host only when it would have finished arriving, and each byte of its answers reaches the host
only when it would have finished leaving, against absolute deadlines, so no drift accumulates.
"""
from __future__ import annotations

import argparse
import math
import os
import select
import signal
import sys
import termios
import time
import tty

from kei.hil.emulator.device import Device
from kei.hil.errors import LinkError
from kei.hil.wire.framing import DELIMITER
from kei.units import BITS_PER_BYTE_8N1

READ_CHUNK = 1 << 16
MAX_PENDING = 1 << 16        # bytes of unsent output kept; beyond, the oldest are dropped
POLL_MAX_S = 0.5             # longest sleep, so idle exit and signals are noticed promptly
MAX_RX_PENDING = 1 << 16     # paced bytes read and still arriving; beyond, the host's writes wait in the pty
SCHEDULE_EPS = 1e-9          # in byte times: a byte due exactly now counts as finished despite rounding


class _Stop(Exception):
    """Raised by the SIGTERM/SIGINT handler to leave the serve loop."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m kei.hil.emulator.main", description="The kei emulated BMS on a serial line.")
    add_options(p)
    return p


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tty", metavar="PATH", help="serve this existing tty/pty instead of creating a pty pair")
    p.add_argument("--baud-pace", type=int, metavar="BAUD", default=0,
                   help="pace both directions like a UART at BAUD 8N1 (BAUD/10 bytes per second each way); "
                        "default unpaced")
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


class PacedLine:
    """One direction of a UART at `baud` 8N1, holding the bytes still crossing it.

    A byte handed to the line at `now` has finished crossing one byte time after the previous byte
    finished, or after `now` if the line was idle by then (no credit for idle time): an absolute
    schedule, so a caller that wakes late finds more bytes finished, never a slower line. Bytes
    leave the line (`take`) only once finished.
    """

    def __init__(self, baud: int):
        self.byte_s = BITS_PER_BYTE_8N1 / baud
        self.buffer = bytearray()  # bytes on the line, oldest first
        self.last_done = 0.0       # when the newest byte has finished (time.monotonic)

    def put(self, data: bytes, now: float) -> None:
        self.last_done = max(self.last_done, now) + len(data) * self.byte_s
        self.buffer += data

    def finished(self, now: float) -> int:
        """How many of the oldest bytes have finished crossing by `now`."""
        if now >= self.last_done:
            return len(self.buffer)
        crossing = math.ceil((self.last_done - now) / self.byte_s - SCHEDULE_EPS)
        return max(0, len(self.buffer) - crossing)

    def take(self, n: int) -> bytes:
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def wait_s(self, now: float) -> float:
        """Time until the next frame delimiter on the line (else its newest byte) has finished.
        Neither end acts on part of a frame, so waking per frame is as exact as waking per byte."""
        i = self.buffer.find(DELIMITER)
        behind = len(self.buffer) - 1 - i if i >= 0 else 0  # bytes queued after it
        return max(0.0, self.last_done - behind * self.byte_s - now)


def serve(fd: int, device: Device, *, baud_pace: int = 0, idle_exit_s: float = 0.0) -> None:
    """Answer frames on `fd` until _Stop (a signal) or `idle_exit_s` of silence.

    With `baud_pace` both directions cross a PacedLine each (full duplex): a byte read is handed to
    the device once it would have finished arriving, an answer is written once it would have
    finished leaving. Unpaced, bytes go straight from os.read to the device and back."""
    os.set_blocking(fd, False)
    rx = PacedLine(baud_pace) if baud_pace > 0 else None  # host -> device
    tx = PacedLine(baud_pace) if baud_pace > 0 else None  # device -> host
    pending = bytearray() if tx is None else tx.buffer     # answers not yet written (paced: still on the line)
    poller = select.poll()
    last_rx = time.monotonic()
    while True:
        now = time.monotonic()
        timeout = POLL_MAX_S
        if idle_exit_s > 0:
            if now - last_rx >= idle_exit_s:
                return
            timeout = min(timeout, idle_exit_s - (now - last_rx))
        writable = bool(pending)
        if tx is not None and pending and tx.finished(now) == 0:
            writable = False
            timeout = min(timeout, tx.wait_s(now))
        if rx is not None and rx.buffer:
            timeout = min(timeout, rx.wait_s(now))
        events = (select.POLLIN if rx is None or len(rx.buffer) < MAX_RX_PENDING else 0) \
            | (select.POLLOUT if writable else 0)
        poller.register(fd, events)
        if rx is None:
            ready = poller.poll(timeout * 1000.0)
        else:  # poll() counts whole ms, rounded up: too coarse for a 1.39 ms STEP. Sleep the last fraction.
            ready = poller.poll(math.floor(timeout * 1000.0))
            rest = now + timeout - time.monotonic()
            if not ready and rest > 0:
                time.sleep(rest)
        flags = ready[0][1] if ready else 0
        answer = b""
        if flags & select.POLLIN:
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                data = b""
            except OSError as err:  # a real serial port that went away
                raise LinkError(f"read failed: {err.strerror}") from err
            if data:
                last_rx = time.monotonic()
                if rx is None:
                    answer = device.feed(data)
                else:
                    rx.put(data, last_rx)
        elif flags & (select.POLLHUP | select.POLLERR) and not flags & select.POLLOUT:
            time.sleep(0.01)  # nobody on the far end (only possible with --tty): wait for one
        if rx is not None and rx.buffer:
            n = rx.finished(time.monotonic())
            if n:
                answer = device.feed(rx.take(n))
        if answer:
            if tx is None:
                pending += answer
            else:
                tx.put(answer, time.monotonic())
        if pending:
            n = len(pending) if tx is None else tx.finished(time.monotonic())
            if n:
                try:
                    written = os.write(fd, pending[:n])
                except BlockingIOError:
                    written = 0
                except OSError as err:
                    raise LinkError(f"write failed: {err.strerror}") from err
                del pending[:written]
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
        print("python3 -m kei.hil.emulator.main: --baud-pace and --idle-exit-s must be >= 0", file=sys.stderr)
        return 2
    try:
        return run(args)
    except LinkError as err:
        print(f"python3 -m kei.hil.emulator.main: error: {err}", file=sys.stderr)
        return 2
