"""The `kei` command. Each subcommand lives in its own module with `register(subparsers)`; the
bench's modules are imported only when their subcommand is asked for."""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import KeiError

# Modules that add subcommands; each defines register(subparsers) and set_defaults(func=run).
SUBCOMMAND_MODULES = [
    "optimizer.simulate_cli",
    "optimizer.catalog_cli",
    "optimizer.solve_cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kei", description="Design small, cheap EVs and prove them on a BMS bench.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeiError as err:
        print(f"kei: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        return 0
    except KeyboardInterrupt:
        print("kei: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
