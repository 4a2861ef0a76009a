"""`kei hil ...`: the bench command group. Each module in HIL_MODULES adds its own sub-subcommand with
`register(subparsers)` and `set_defaults(func=run)`, so a command stays in the file that implements it."""
from __future__ import annotations

import argparse
import importlib

HIL_MODULES: list[str] = [
    "kei.hil.cli.emulate",
    "kei.hil.cli.run",
    "kei.hil.cli.ports",
    "kei.hil.cli.report",
]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("hil", help="the HIL bench: stream a design to a BMS and measure its range",
                            description="The HIL bench: stream a design to a BMS (real, emulated or the C "
                            "firmware stub) and measure the range it delivers.")
    group = parser.add_subparsers(dest="hil_command", metavar="HIL_COMMAND")
    group.required = True
    for name in HIL_MODULES:
        importlib.import_module(name).register(group)
