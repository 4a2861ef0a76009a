"""The `kei` command. Each subcommand lives in its own module with `register(subparsers)`.

The bench commands live in `hil/`, which may import `optimizer/` but never the reverse: this parser
only names them, and their package is imported when one of them runs (`DELEGATED`).
"""
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
# Subcommands owned by hil/: name -> (module with main(argv) -> int, help).
DELEGATED = {
    "hil": ("hil.cli", "the HIL bench: stream a design to a BMS and measure its range"),
    "firmware": ("hil.firmware_cli", "the C firmware stub: boot configuration from a design, build"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kei", description="Design small, cheap EVs and prove them on a BMS bench.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for name, (module, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)  # listed in --help; main() hands it over
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in DELEGATED:
        run = lambda: importlib.import_module(DELEGATED[argv[0]][0]).main(argv[1:])  # noqa: E731
    else:
        args = build_parser().parse_args(argv)
        run = lambda: args.func(args)  # noqa: E731
    try:
        return int(run() or 0)
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
