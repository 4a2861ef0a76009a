"""The `kei` command: the front door. It names each subcommand and the module that owns it, and
imports only that module when the subcommand runs (so `kei simulate` never loads Pyomo, and the
core never imports a half). Each command module has `register(subparsers)` adding its parser(s)
with `set_defaults(func=run)`; a group (`kei hil ...`) adds nested subparsers the same way.

Errors: every `KeiError` is one line on stderr and its `exit_code` (kei.errors); anything else is a
bug, reported with its traceback and exit code 1.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from pathlib import Path

from kei.errors import EXIT_CODES_HELP, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, KeiError, UsageError
from kei.resources import CONFIG_DIR_ENV

# name -> (module with register(subparsers), one-line help for `kei --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "cycles": ("kei.vehicle.cli", "list the bundled drive cycles"),
    "simulate": ("kei.vehicle.cli", "simulate a vehicle or design on a drive cycle"),
    "catalog": ("kei.optimizer.cli.catalog", "list the parts catalogs"),
    "solve": ("kei.optimizer.cli.solve", "find the best design for a problem (MILP, verified by simulation)"),
    "study": ("kei.optimizer.cli.study", "design studies: Pareto, sweeps, break-even, tornado, Monte Carlo (local cores or Ray)"),
    "hil": ("kei.hil.cli.hil", "the HIL bench: stream a design to a BMS and measure its range"),
    "firmware": ("kei.hil.cli.firmware", "the C firmware stub: boot configuration from a design, build"),
}
CONFIGS_OPTION = "--configs"
# The folders pyproject.toml maps into the package (its package-dir). Run from a checkout that was
# never installed, or after the install was removed, Python finds kei/ but not these.
MAPPED_PACKAGES = ("kei.optimizer", "kei.hil", "kei.configs", "kei.firmware_stubs")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, that command's module registers its real parser, the others are
    listed by name only."""
    from kei import __version__

    parser = argparse.ArgumentParser(
        prog="kei", description="Design small, cheap EVs and prove them on a BMS bench.",
        epilog=f"{CONFIGS_OPTION} DIR (or {CONFIG_DIR_ENV}=DIR), anywhere on the line: use the config files in "
        f"DIR instead of the bundled ones of the same name.\n{EXIT_CODES_HELP}.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"kei {__version__}")
    parser.add_argument(CONFIGS_OPTION, metavar="DIR", help="a folder of config files used before the bundled ones")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    owner = COMMANDS[command][0] if command in COMMANDS else None
    if owner:
        importlib.import_module(owner).register(sub)  # every command that module owns
    for name, (module, help_text) in COMMANDS.items():
        if module != owner:
            sub.add_parser(name, help=help_text, add_help=False)  # listed in --help only
    return parser


def _take_configs_option(argv: list[str]) -> list[str]:
    """`--configs DIR` may come anywhere; it becomes KEI_CONFIG_DIR, which device processes and
    study workers inherit."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == CONFIGS_OPTION:
            if i + 1 >= len(argv):
                raise UsageError(CONFIGS_OPTION, "expected a folder")
            os.environ[CONFIG_DIR_ENV] = argv[i + 1]
            i += 2
            continue
        if arg.startswith(CONFIGS_OPTION + "="):
            os.environ[CONFIG_DIR_ENV] = arg.split("=", 1)[1]
        else:
            out.append(arg)
        i += 1
    return out


def _missing_mapped_package(err: BaseException) -> str | None:
    """The mapped package a failed import was looking for, if that is what failed."""
    name = getattr(err, "name", None) if isinstance(err, ModuleNotFoundError) else None
    return next((p for p in MAPPED_PACKAGES if name and (name == p or name.startswith(p + "."))), None)


def _not_installed_message(package: str) -> str:
    import kei

    imported_from = Path(kei.__file__).resolve().parent
    checkout = imported_from.parent
    where = f" in {checkout}" if (checkout / "pyproject.toml").is_file() else ""
    return (f"{package} is not installed: kei was imported from {imported_from} without the install "
            f"that maps the checkout's other folders into it; run `pip install -e .`{where} "
            "(README, first command)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        argv = _take_configs_option(argv)
        command = next((a for a in argv if not a.startswith("-")), None)
        try:
            args = build_parser(command).parse_args(argv)
        except SystemExit as done:  # argparse: --help, --version (0) or a usage error (2), already printed
            return int(done.code or 0) if isinstance(done.code, int) or done.code is None else EXIT_USAGE
        if CONFIG_DIR_ENV in os.environ:
            from kei.resources import user_configs_dir

            user_configs_dir()  # a missing folder is an error before any work starts
        return int(args.func(args) or 0)
    except KeiError as err:
        print(f"kei: error: {err}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        return 0
    except KeyboardInterrupt:
        print("kei: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - a bug: show where, and say so
        missing = _missing_mapped_package(err)
        if missing:  # not a bug in kei but a checkout without its install
            print(f"kei: error: {_not_installed_message(missing)}", file=sys.stderr)
            return EXIT_INTERNAL
        traceback.print_exc()
        print("kei: internal error (a bug in kei: please report it with the traceback above)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
