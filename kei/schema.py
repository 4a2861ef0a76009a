"""Declared schemas for TOML configs: every key has a type, a unit and a description.

Catalogs, problems and vehicle files are all validated through `validate_table`, so an unknown key
(a typo) or a bad value fails at load time with the file, the table and the key named, instead of
silently falling back to a default.
"""
from __future__ import annotations

import math
import tomllib
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from kei.errors import ConfigError
from kei.textfile import read_text

REQUIRED = object()
# The key may be omitted; its value then comes from the `defaults` mapping given to validate_table
# (for vehicle files: configs/model_defaults.toml), which must hold it.
FROM_DEFAULTS = object()


@dataclass(frozen=True)
class Field:
    """One key of a config table. `kind` is float, int, str, bool or list."""

    name: str
    kind: type
    unit: str
    description: str
    default: Any = REQUIRED
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


# A design study solves thousands of variants of the same config files. It parses each file once and
# serves the parsed tables, with its overrides applied, to the ordinary loaders (`served_tables`),
# so every variant is validated by the same code, with the same messages, as a file on disk.
_SERVED: ContextVar[Callable[[Path], dict | None] | None] = ContextVar("kei_served_tables", default=None)


@contextmanager
def served_tables(lookup: Callable[[Path], dict | None]) -> Iterator[None]:
    """Within the block, `read_toml(path)` returns `lookup(path)` when that is not None (the
    caller's parsed tables; loaders never modify what they read), else reads the file."""
    token = _SERVED.set(lookup)
    try:
        yield
    finally:
        _SERVED.reset(token)


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file; a syntax error names the file and the position."""
    lookup = _SERVED.get()
    if lookup is not None:
        served = lookup(Path(path))
        if served is not None:
            return served
    text = read_text(path, what="TOML file")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), None, f"not valid TOML: {err}") from err


def _check_value(field: Field, value: Any, file: str, key: str) -> Any:
    if field.kind is float:
        # bool is an int in Python; a `true` where a number belongs is a mistake.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(file, key, f"expected a number ({field.unit}), got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(file, key, f"must be finite, got {value!r}")
    elif field.kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(file, key, f"expected an integer, got {value!r}")
    elif field.kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, key, f"expected true or false, got {value!r}")
    elif field.kind is str:
        if not isinstance(value, str):
            raise ConfigError(file, key, f"expected a string, got {value!r}")
    elif field.kind is list:
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected a list, got {value!r}")
    if field.choices is not None and value not in field.choices:
        raise ConfigError(file, key, f"must be one of {', '.join(map(str, field.choices))}; got {value!r}")
    if field.min is not None and value < field.min:
        raise ConfigError(file, key, f"must be >= {field.min} {field.unit}, got {value}")
    if field.max is not None and value > field.max:
        raise ConfigError(file, key, f"must be <= {field.max} {field.unit}, got {value}")
    return value


def validate_table(
    table: Mapping[str, Any],
    fields: Sequence[Field],
    *,
    file: str | Path,
    where: str = "",
    defaults: Mapping[str, Any] | None = None,
    allow_subtables: Sequence[str] = (),
) -> dict:
    """Check `table` against `fields` and return it with defaults filled in.

    `where` is the dotted table path used in messages (e.g. "battery" or "cell[lfp_280]").
    A missing optional key takes `defaults[name]` when given (the calibrated set), else the field's
    own default. Sub-tables named in `allow_subtables` pass through untouched for the caller.
    """
    file = str(file)
    prefix = f"{where}." if where else ""
    if not isinstance(table, Mapping):
        raise ConfigError(file, where or None, f"expected a table, got {table!r}")
    known = {f.name: f for f in fields}
    for key in table:
        if key not in known and key not in allow_subtables:
            hint = _closest(key, list(known) + list(allow_subtables))
            raise ConfigError(file, prefix + key, "unknown key" + (f" (did you mean '{hint}'?)" if hint else ""))
    out: dict[str, Any] = {}
    for f in fields:
        key = prefix + f.name
        if f.name in table:
            out[f.name] = _check_value(f, table[f.name], file, key)
        elif defaults is not None and f.name in defaults:
            out[f.name] = defaults[f.name]
        elif f.required:
            raise ConfigError(file, key, f"missing required key ({f.description}, {f.unit})")
        elif f.default is FROM_DEFAULTS:
            raise ConfigError(file, key, "not set, and the model defaults have no value for it either")
        else:
            out[f.name] = f.default
    for name in allow_subtables:
        if name in table:
            out[name] = table[name]
    return out


def validate_sections(raw: Mapping[str, Any], sections: Mapping[str, Sequence[Field]], *, file: str | Path,
                      extra: Sequence[str] = ()) -> dict[str, dict]:
    """Validate a config made of required tables, one schema each (`sections`); tables named in `extra`
    pass through for the caller. An unknown or missing table names the file and the table."""
    file = str(file)
    known = list(sections) + list(extra)
    for key in raw:
        if key not in known:
            raise ConfigError(file, key, f"unknown section (known: {', '.join(known)})")
    tables = {}
    for name, fields in sections.items():
        if name not in raw:
            raise ConfigError(file, name, "missing required section")
        tables[name] = validate_table(raw[name], fields, file=file, where=name)
    return tables


def _closest(key: str, candidates: list[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return match[0] if match else None


def describe(fields: Sequence[Field], *, with_bounds: bool = False) -> str:
    """A Markdown table of a schema, for docs; `with_bounds` adds the allowed range or choices."""
    head = ["key", "type", "unit", "default"] + (["allowed"] if with_bounds else []) + ["description"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in fields:
        default = "required" if f.required else "model default" if f.default is FROM_DEFAULTS else repr(f.default)
        cols = [f"`{f.name}`", f.kind.__name__, f.unit, default]
        if with_bounds:
            cols.append(_allowed(f))
        rows.append("| " + " | ".join(cols + [f.description]) + " |")
    return "\n".join(rows)


def _allowed(f: Field) -> str:
    if f.choices is not None:
        return ", ".join(f"`{c}`" for c in f.choices)
    if f.min is None and f.max is None:
        return "-"
    low = "" if f.min is None else f"{f.min:g}"
    high = "" if f.max is None else f"{f.max:g}"
    return f"{low} .. {high}"
