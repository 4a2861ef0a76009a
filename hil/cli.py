"""`kei hil ...`: the bench commands. Each module in HIL_MODULES adds its own sub-subcommand with
`register(subparsers)` and `set_defaults(func=run)`, so a command stays in the file that implements it.
`optimizer.cli` hands `kei hil ...` to `main` here; errors propagate to it and are reported there."""
from __future__ import annotations

import argparse
import importlib

HIL_MODULES: list[str] = [
    "hil.emulate_cli",
    "hil.run_cli",
    "hil.ports_cli",
    "hil.report_cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kei hil", description="The HIL bench: stream a design to a BMS "
                                     "(real, emulated or the C firmware stub) and measure the range it delivers.")
    sub = parser.add_subparsers(dest="hil_command", metavar="HIL_COMMAND")
    sub.required = True
    for name in HIL_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
