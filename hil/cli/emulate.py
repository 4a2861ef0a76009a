"""`kei hil emulate`: run the emulated BMS in the foreground on a new pty and print its port, so other
tools (a terminal program, a script with pyserial, `kei hil run --port PATH`) can talk to it."""
from __future__ import annotations

import argparse
import sys

from kei.hil.emulator import main as device_main


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("emulate", help="run the emulated BMS on a pty and print the port path",
                       description="Run the emulated BMS (docs/emulator.md) in the foreground on a new "
                       "pseudo-terminal and print `PORT <path>`. Stop it with Ctrl-C.")
    device_main.add_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.tty is None:
        print("kei hil emulate: emulated BMS running; open the PORT below with any serial tool, Ctrl-C stops it",
              file=sys.stderr)
    return device_main.run(args)
