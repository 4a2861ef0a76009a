"""`kei hil emulate`: run a device process in the foreground on a new pty and print its port, so other
tools (a terminal program, a script with pyserial, `kei hil run --port PATH`) can talk to it: the
emulated BMS (default), the C stub built for this host, or the Cortex-M image under QEMU."""
from __future__ import annotations

import argparse
import subprocess
import sys

from kei.hil.emulator import main as device_main
from kei.hil.link.devices import DEVICE_KINDS, device_command


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("emulate", help="run an emulated BMS on a pty and print the port path",
                       description="Run a device (docs/architecture.md, device process contract) in the foreground "
                       "on a new pseudo-terminal and print `PORT <path>`. Stop it with Ctrl-C.")
    p.add_argument("--emulator", choices=list(DEVICE_KINDS), default="python", help="which device: " + "; ".join(
        f"{k.name} ({k.description})" for k in DEVICE_KINDS.values()) + " (default: python)")
    device_main.add_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Another device process: the same options (the contract), in the foreground; Ctrl-C reaches it too
    # (same process group), and it exits 0 on SIGINT. Its command first: it may build, or find QEMU missing.
    cmd = None if args.emulator == "python" else device_command(args.emulator)
    if args.tty is None:
        print(f"kei hil emulate: {args.emulator} device running; open the PORT below with any serial tool, "
              "Ctrl-C stops it", file=sys.stderr)
    if cmd is None:
        return device_main.run(args)
    cmd += ["--idle-exit-s", f"{args.idle_exit_s:g}"]
    if args.baud_pace:
        cmd += ["--baud-pace", str(args.baud_pace)]
    if args.device_id is not None:
        cmd += ["--device-id", str(args.device_id)]
    if args.tty is not None:
        cmd += ["--tty", args.tty]
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL) as proc:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            return proc.wait()
