"""Reading a user's text file (a config, a cycle CSV) with the ordinary slips named, not a traceback:
a folder where a file belongs, a missing or unreadable file, and an encoding other than UTF-8
(TOML requires UTF-8; a UTF-8 byte-order mark, as spreadsheet programs write, is accepted)."""
from __future__ import annotations

import codecs
from pathlib import Path

from kei.errors import ConfigError

BOMS_NOT_UTF8 = {codecs.BOM_UTF16_LE: "UTF-16", codecs.BOM_UTF16_BE: "UTF-16",
                 codecs.BOM_UTF32_LE: "UTF-32", codecs.BOM_UTF32_BE: "UTF-32"}


def read_text(path: str | Path, *, error=ConfigError, what: str = "file") -> str:
    """The file as text. `error(file, None, message)` is raised for every slip (ConfigError for
    configs, CycleError for cycles), naming the file."""
    path = Path(path)
    if path.is_dir():
        raise error(str(path), None, f"is a folder; expected a {what}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(str(path), None, "file not found") from None
    except OSError as err:
        raise error(str(path), None, f"cannot read: {err.strerror or err}") from err
    for bom, name in sorted(BOMS_NOT_UTF8.items(), key=lambda kv: -len(kv[0])):  # UTF-32 LE starts like UTF-16 LE
        if data.startswith(bom):
            raise error(str(path), None, f"is {name}-encoded; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise error(str(path), None, f"is not UTF-8 (byte 0x{data[err.start]:02x} on line {line}; Latin-1 or "
                    "Windows-1252 perhaps): save it as UTF-8") from None
