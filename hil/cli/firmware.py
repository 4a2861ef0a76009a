"""`kei firmware ...`: the C firmware stub's commands (docs/firmware.md).

    kei firmware config DESIGN [--bms FILE] [-o FILE]    pack_config.h for DESIGN, on stdout or to FILE
    kei firmware build [--design DESIGN | --pack-config FILE] [--asan | --target NAME]
                                                         build firmware_stubs/build/kei_bms_host, or the
                                                         Cortex-M image of a target (ELF path on stdout,
                                                         flash and RAM by section on stderr)

"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kei.hil.firmware.build import BUILD_DIR, FIRMWARE_DIR, ensure_host_binary
from kei.hil.firmware.elf import read_image, size_table
from kei.hil.firmware.header import pack_config_header
from kei.hil.firmware.targets import TARGETS, build_target
from kei.hil.setup.bms_config import bms_config_file, load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.resources import shown_path
from kei.vehicle.files import load_vehicle, vehicle_path


def register(group: argparse._SubParsersAction) -> None:
    parser = group.add_parser("firmware", help="the C firmware stub: boot configuration from a design, build",
                              description="The C firmware stub (firmware_stubs/): its boot configuration and its build.")
    sub = parser.add_subparsers(dest="firmware_command", metavar="FIRMWARE_COMMAND")
    sub.required = True
    p = sub.add_parser("config", help="print the pack_config.h of a design (the stub's boot configuration)",
                       description="Derive the pack (series, parallel, cell limits, capacity, resistances, BMS "
                       "calibration, OCV table) from a design or vehicle file and configs/bms.toml, exactly as the "
                       "bench's CONFIGURE and OCV_TABLE messages would carry it, and print it as a C header. "
                       "Build it in with: make -C firmware_stubs PACK_CONFIG=FILE.")
    p.add_argument("design", metavar="DESIGN", help="design or vehicle TOML file")
    p.add_argument("--bms", default=None, metavar="FILE", help="BMS defaults (default: configs/bms.toml)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the header here instead of stdout")
    p.set_defaults(func=run_config)
    b = sub.add_parser("build", help="build the stub's host program, or its image for a microcontroller target",
                       description="Build the stub's host program with make (incremental), or with --target the "
                       "firmware image for a Cortex-M board (arm-none-eabi-gcc; run it with kei hil run --emulator "
                       "qemu, or flash it: docs/firmware.md). Without --design/--pack-config it boots with the "
                       "committed firmware_stubs/config/pack_config.h.")
    src = b.add_mutually_exclusive_group()
    src.add_argument("--design", metavar="DESIGN", help="boot configuration generated from this design file")
    src.add_argument("--pack-config", metavar="FILE", help="boot configuration header to compile in")
    b.add_argument("--bms", default=None, metavar="FILE", help="BMS defaults for --design (default: configs/bms.toml)")
    kind = b.add_mutually_exclusive_group()
    kind.add_argument("--asan", action="store_true", help="the AddressSanitizer + UBSan build (build/asan/)")
    kind.add_argument("--target", choices=list(TARGETS), metavar="NAME", help="the firmware image for a board: " +
                      "; ".join(f"{t.name} ({t.description})" for t in TARGETS.values()))
    b.set_defaults(func=run_build)


def header_for(design: str, bms: str | None) -> str:
    bms = bms or str(bms_config_file())
    design = str(vehicle_path(design))
    setup = pack_setup(load_vehicle(design), load_bms_config(bms), vehicle_file=design)
    return pack_config_header(setup, design_file=shown_path(design), bms_file=shown_path(bms))


def run_config(args: argparse.Namespace) -> int:
    text = header_for(args.design, args.bms)
    if args.output:
        Path(args.output).write_text(text)
        print(f"kei firmware config: wrote {args.output}; build it in with "
              f"make -C {FIRMWARE_DIR} PACK_CONFIG={Path(args.output).resolve()}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def run_build(args: argparse.Namespace) -> int:
    pack_config = args.pack_config
    if args.design:
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        pack_config = BUILD_DIR / "design_pack_config.h"
        pack_config.write_text(header_for(args.design, args.bms))
    if args.target:
        elf = build_target(args.target, pack_config=pack_config)
        print(size_table(read_image(elf)), file=sys.stderr)
        print(elf)
        return 0
    binary = ensure_host_binary(asan=args.asan, pack_config=pack_config)
    print(binary)
    return 0

