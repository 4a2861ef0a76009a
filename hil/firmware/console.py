"""The firmware's console lines (port/mps2_an386/console.c): `<firmware>: <kind> key=value ...`, a `boot`
line at reset and `stats` lines while the protocol line is busy and once it goes quiet. The QEMU
launcher copies them to its stderr (a session's device.log); this reads them back. Pure."""
from __future__ import annotations

import re

_LINE = re.compile(r"^(?P<firmware>[\w.-]+): (?P<kind>boot|stats)(?P<fields>( [a-z_]+=\S+)+)\s*$")


def parse_line(text: str) -> tuple[str, dict[str, str | int]] | None:
    """(kind, fields) of a console line, numbers as int; None for any other line."""
    m = _LINE.match(text.strip())
    if not m:
        return None
    fields: dict[str, str | int] = {}
    for pair in m["fields"].split():
        key, value = pair.split("=", 1)
        fields[key] = int(value, 0) if re.fullmatch(r"0x[0-9a-f]+|\d+", value) else value
    return m["kind"], fields


def console_records(text: str, kind: str) -> list[dict[str, str | int]]:
    """Every `kind` line (boot or stats) in `text` (a device.log), oldest first."""
    out = []
    for line in text.splitlines():
        parsed = parse_line(line)
        if parsed and parsed[0] == kind:
            out.append(parsed[1])
    return out
