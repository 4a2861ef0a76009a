"""The emulated lab bench as a process: one battery (`LabBench`), a SCPI source/load on TCP localhost
(and on a pty with --scpi-pty), and a BMS (JBD, Daly, or CAN through an slcan adapter) on a pty:

    python3 -m kei.hil.emulator.lab_main --pack PACK.json [--model generic|sdl1000x|dl3000]
        [--bms jbd|daly|can] [--clock host|wall] [--time-scale N] [--scpi-latency-ms MS]
        [--bms-baud BAUD] [--scpi-pty] [--idle-exit-s S] [--fault SPEC]

PACK.json holds the `configure` and `ocv_table` of docs/protocol.md (the battery on the bench, as
kei's pack setup makes it from a design). The process prints one line
`LAB {"scpi": "TCPIP::127.0.0.1::PORT::SOCKET", "scpi_pty": ..., "bms": "/dev/pts/N", ...}` and
serves until SIGTERM / SIGINT (exit 0) or --idle-exit-s of silence on every port. It runs in its
own session when kei starts it, so the battery (and its state) outlives a killed host, as a real
one does.

Command latency (--scpi-latency-ms): each SCPI program message is answered that long after it
arrived, as a LAN instrument's command parser takes 1-10 ms. --bms-baud paces the BMS's line both
ways like a UART at BAUD 8N1 (9600 is what JBD and Daly boards speak). Both default to 0 (as fast
as the host) for CI.

Faults (--fault, comma-separated, emulated seconds; for the fault tests):
    bms-silent@T[:D]    from emulated time T, the BMS answers nothing for D wall seconds (default: ever)
    scpi-silent@T[:D]   the same for the SCPI front end (a pulled LAN cable; input is discarded)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import select
import signal
import socket
import sys
import termios
import time
import tty

from kei.hil.emulator.can_bms import CanBms, SlcanAdapter
from kei.hil.emulator.daly import DalyDevice
from kei.hil.emulator.jbd import JbdDevice
from kei.hil.emulator.lab_bench import CLOCKS, LabBench
from kei.hil.emulator.main import PacedLine
from kei.hil.emulator.scpi import PERSONALITIES, ScpiInstrument
from kei.hil.wire.protocol import Configure, FaultFlag

BMS_KINDS = ("jbd", "daly", "can")
READ_CHUNK = 1 << 16
POLL_S = 0.05
CAN_PERIOD_S = 0.1        # wall clock: a broadcast at most every 100 ms, as BMSs send at 10 Hz
CAN_KEEPALIVE_S = 1.0     # and at least once a second even when nothing changed


class _Stop(Exception):
    pass


def parse_faults(spec: str | None) -> list[dict]:
    faults = []
    for part in filter(None, (spec or "").split(",")):
        name, _, when = part.partition("@")
        at, _, dur = when.partition(":")
        if name not in ("bms-silent", "scpi-silent") or not at:
            raise ValueError(f"--fault: bad part {part!r} (bms-silent@T[:D] or scpi-silent@T[:D])")
        faults.append({"name": name, "at_s": float(at), "duration_s": float(dur) if dur else math.inf,
                       "since": None})
    return faults


def _silent(faults: list[dict], name: str, bench: LabBench) -> bool:
    now = time.monotonic()
    for f in faults:
        if f["name"] != name or bench.time_s < f["at_s"]:
            continue
        if f["since"] is None:
            f["since"] = now
            print(f"lab emulator: fault {name} from emulated {bench.time_s:.1f} s", file=sys.stderr, flush=True)
        if now - f["since"] < f["duration_s"]:
            return True
    return False


def _pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    for fd in (master, slave):
        tty.setraw(fd, termios.TCSANOW)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


def load_pack(path: str) -> tuple[Configure, tuple[int, ...]]:
    with open(path) as fh:
        raw = json.load(fh)
    return Configure(**raw["configure"]), tuple(raw["ocv_table"]["ocv_mv"])


class LineBuffer:
    """Bytes from one SCPI client, split into program messages (newline-terminated)."""

    def __init__(self):
        self.data = bytearray()

    def lines(self, chunk: bytes) -> list[str]:
        self.data += chunk
        out = []
        while (i := self.data.find(b"\n")) >= 0:
            out.append(bytes(self.data[:i]).decode("ascii", "replace").rstrip("\r"))
            del self.data[:i + 1]
        return out


def serve(args: argparse.Namespace, out=sys.stdout) -> int:
    configure, ocv = load_pack(args.pack)
    bench = LabBench(configure, ocv, clock=args.clock, time_scale=args.time_scale)
    scpi = ScpiInstrument(bench, PERSONALITIES[args.model])
    faults = parse_faults(args.fault)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.scpi_port))
    listener.listen(4)
    listener.setblocking(False)
    clients: dict[int, tuple[socket.socket, LineBuffer]] = {}
    scpi_pty = _pty() if args.scpi_pty else None
    scpi_pty_lines = LineBuffer()
    bms_master, bms_slave, bms_path = _pty()
    device = {"jbd": JbdDevice, "daly": DalyDevice}.get(args.bms)
    bms_dev = device(bench) if device else None
    can = CanBms(bench) if args.bms == "can" else None
    slcan = SlcanAdapter() if can else None
    rx = PacedLine(args.bms_baud) if args.bms_baud else None
    tx = PacedLine(args.bms_baud) if args.bms_baud else None
    bms_out = bytearray() if tx is None else tx.buffer
    latency_s = args.scpi_latency_ms / 1000.0
    info = {"scpi": f"TCPIP::127.0.0.1::{listener.getsockname()[1]}::SOCKET", "scpi_pty": scpi_pty[2] if scpi_pty else None,
            "bms": bms_path, "bms_protocol": args.bms, "model": args.model, "clock": args.clock,
            "scpi_latency_ms": args.scpi_latency_ms, "bms_baud": args.bms_baud, "pid": os.getpid()}
    print("LAB " + json.dumps(info), file=out, flush=True)
    last_rx = time.monotonic()
    last_can = (-1, 0.0)  # (revision, wall time) of the last broadcast
    can_was_open = False  # a host that opens the channel gets a broadcast at once
    seen_latched = 0
    seen_outputs = 0

    def scpi_reply(lines: list[str]) -> bytes:
        replies = []
        for line in lines:
            if _silent(faults, "scpi-silent", bench):
                continue
            if latency_s > 0:
                time.sleep(latency_s)
            reply = scpi.handle(line)
            if reply is not None:
                replies.append(reply.encode() + b"\n")
        return b"".join(replies)

    try:
        while True:
            now = time.monotonic()
            if args.idle_exit_s > 0 and now - last_rx > args.idle_exit_s:
                return 0
            fds = [listener.fileno(), bms_master, *clients] + ([scpi_pty[0]] if scpi_pty else [])
            timeout = POLL_S
            if rx is not None and rx.buffer:
                timeout = min(timeout, rx.wait_s(now))
            if tx is not None and tx.buffer:
                timeout = min(timeout, tx.wait_s(now))
            writable = [bms_master] if bms_out and (tx is None or tx.finished(now)) else []
            ready, can_write, _ = select.select(fds, writable, [], max(timeout, 0.0))
            bench.sync()
            for fd in ready:
                if fd == listener.fileno():
                    conn, _ = listener.accept()
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    clients[conn.fileno()] = (conn, LineBuffer())
                elif fd in clients:
                    conn, lines = clients[fd]
                    try:
                        chunk = conn.recv(READ_CHUNK)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        conn.close()
                        del clients[fd]
                        continue
                    last_rx = time.monotonic()
                    reply = scpi_reply(lines.lines(chunk))
                    if reply:
                        try:
                            conn.sendall(reply)
                        except OSError:
                            conn.close()
                            del clients[fd]
                elif scpi_pty and fd == scpi_pty[0]:
                    try:
                        chunk = os.read(fd, READ_CHUNK)
                    except (BlockingIOError, OSError):
                        chunk = b""
                    if chunk:
                        last_rx = time.monotonic()
                        reply = scpi_reply(scpi_pty_lines.lines(chunk))
                        if reply:
                            os.write(fd, reply)
                elif fd == bms_master:
                    try:
                        chunk = os.read(fd, READ_CHUNK)
                    except (BlockingIOError, OSError):
                        chunk = b""
                    if chunk:
                        last_rx = time.monotonic()
                        if _silent(faults, "bms-silent", bench):
                            continue
                        if rx is None:
                            bms_out += (bms_dev or slcan).feed(chunk)
                        else:
                            rx.put(chunk, last_rx)
            if rx is not None and rx.buffer:
                n = rx.finished(time.monotonic())
                if n:
                    answer = (bms_dev or slcan).feed(rx.take(n))
                    if answer and not _silent(faults, "bms-silent", bench):
                        tx.put(answer, time.monotonic())
            if can is not None and slcan.open and not _silent(faults, "bms-silent", bench):
                now = time.monotonic()
                changed = bench.revision != last_can[0]
                # Host clock: one broadcast per clock advance (and one when the channel opens), so a
                # host reads exactly the state after its step; wall clock: periodic, as a real BMS.
                if not can_was_open or (changed and (bench.clock == "host" or now - last_can[1] >= CAN_PERIOD_S)) \
                        or (bench.clock == "wall" and now - last_can[1] >= CAN_KEEPALIVE_S):
                    data = slcan.encode(can.broadcast())
                    if tx is None:
                        bms_out += data
                    else:
                        tx.put(data, now)
                    last_can = (bench.revision, now)
            if can is not None:
                can_was_open = slcan.open
            if bms_out:
                n = len(bms_out) if tx is None else tx.finished(time.monotonic())
                if n:
                    try:
                        written = os.write(bms_master, bms_out[:n])
                    except BlockingIOError:
                        written = 0
                    del bms_out[:written]
                if len(bms_out) > READ_CHUNK:  # nobody reads the pty: a UART's far end is gone
                    del bms_out[:len(bms_out) - READ_CHUNK]
            for t, flag, group, value in bench.latched[seen_latched:]:
                names = ",".join(f.name.lower() for f in FaultFlag if flag & f)
                print(f"lab emulator: BMS protection {names} at emulated {t:.1f} s (value {value:.4g})",
                      file=sys.stderr, flush=True)
            seen_latched = len(bench.latched)
            for t, on in bench.output_events[seen_outputs:]:
                print(f"lab emulator: output {'ON' if on else 'OFF'} at emulated {t:.1f} s", file=sys.stderr, flush=True)
            seen_outputs = len(bench.output_events)
    finally:
        for conn, _ in clients.values():
            conn.close()
        listener.close()
        for fd in (bms_master, bms_slave) + ((scpi_pty[0], scpi_pty[1]) if scpi_pty else ()):
            os.close(fd)
        print(f"lab emulator: stopped at emulated {bench.time_s:.1f} s, output {'ON' if bench.output_on else 'OFF'}, "
              f"SCPI {scpi.counters}, BMS {(bms_dev or slcan).counters}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m kei.hil.emulator.lab_main",
                                description="An emulated lab bench: SCPI source/load + JBD/Daly/CAN BMS on one pack.")
    p.add_argument("--pack", required=True, metavar="PACK.json", help="the battery: configure + ocv_table (protocol.md)")
    p.add_argument("--model", choices=list(PERSONALITIES), default="generic", help="SCPI personality")
    p.add_argument("--bms", choices=BMS_KINDS, default="jbd", help="BMS protocol on the BMS pty")
    p.add_argument("--clock", choices=CLOCKS, default="host", help="host: time advances by SYST:CLOC:ADV; wall: runs")
    p.add_argument("--time-scale", type=float, default=1.0, help="wall clock: emulated seconds per wall second")
    p.add_argument("--scpi-port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free one)")
    p.add_argument("--scpi-pty", action="store_true", help="also serve SCPI on a pty (an RS-232 instrument)")
    p.add_argument("--scpi-latency-ms", type=float, default=0.0, help="answer each SCPI message this much later")
    p.add_argument("--bms-baud", type=int, default=0, help="pace the BMS line like a UART at BAUD 8N1 (0: unpaced)")
    p.add_argument("--idle-exit-s", type=float, default=0.0, help="exit after S s without a byte (0: never)")
    p.add_argument("--fault", metavar="SPEC", help="bms-silent@T[:D], scpi-silent@T[:D] (emulated s, wall s)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        parse_faults(args.fault)
    except ValueError as err:
        print(f"lab emulator: {err}", file=sys.stderr)
        return 2

    def stop(signum, frame):
        raise _Stop

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, stop)
    try:
        return serve(args)
    except _Stop:
        return 0
    except (OSError, ValueError, KeyError) as err:
        print(f"lab emulator: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
