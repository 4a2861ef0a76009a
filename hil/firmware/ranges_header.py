"""The CONFIGURE range table (`kei.hil.wire.configure_ranges`) as the C header the firmware stub
compiles in: `firmware_stubs/include/kei_configure_ranges.h`. Generated and committed, so the stub
builds with a C compiler alone; `tests/unit/test_firmware_config.py` fails when the committed
header and the table differ. Regenerate:

    python3 -m kei.hil.firmware.ranges_header -o firmware_stubs/include/kei_configure_ranges.h
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kei.hil.firmware.header import c_comment, c_float
from kei.hil.wire.configure_ranges import CONFIGURE_RANGES, MIN_THERMAL_TIME_CONSTANT_S, PARALLEL_MAX

GENERATED_BY = "python3 -m kei.hil.firmware.ranges_header"


def ranges_header() -> str:
    rows = []
    for r in CONFIGURE_RANGES:
        lo = ">" if r.low_open else ">="
        hi = "<" if r.high_open else "<="
        rows.append(f"    X({r.name}, {lo}, {c_float(r.low)}, {hi}, {c_float(r.high)}) "
                    f"/* {c_comment(r.unit + ': ' + r.why)} */ \\")
    return (
        "/* kei_configure_ranges.h: the physical range of every CONFIGURE field, generated from\n"
        f" * hil/wire/configure_ranges.py by `{GENERATED_BY}`. Do not edit: regenerate.\n"
        " * The Python emulator and the host check the same table; docs/protocol.md lists it.\n"
        " * X(field, low comparison, low, high comparison, high): a value is accepted when\n"
        " * `value <low comparison> low && value <high comparison> high` (false for NaN). */\n"
        "#ifndef KEI_CONFIGURE_RANGES_H\n"
        "#define KEI_CONFIGURE_RANGES_H\n"
        "\n"
        f"#define KEI_PARALLEL_MAX {PARALLEL_MAX}u\n"
        f"/* heat capacity x thermal resistance, s: explicit Euler stays monotone over the longest step */\n"
        f"#define KEI_MIN_THERMAL_TIME_CONSTANT_S {c_float(MIN_THERMAL_TIME_CONSTANT_S)}\n"
        "\n"
        "#define KEI_CONFIGURE_RANGES(X) \\\n"
        + "\n".join(rows) + "\n"
        "\n"
        "#endif /* KEI_CONFIGURE_RANGES_H */\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=GENERATED_BY, description="write kei_configure_ranges.h")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    args = p.parse_args(argv)
    text = ranges_header()
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
