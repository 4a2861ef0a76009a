"""Any input number by its dotted key: `catalog.bodies.*.cost_usd*=0.9`, `price.tariff_rate_by_origin.MX=0.25`.

A key names a source and a path inside that source's parsed TOML:

    problem.<path>       the problem file            problem.price_cap_usd, problem.performance.grade_percent
    price.<path>         the price model it names    price.retail_price_equivalent, price.tariff_rate_by_origin.KR
    catalog.<file>.<path> a file of its catalog      catalog.cells.panasonic_2170_us.cost_usd_per_kwh,
                         (cells, motors, bodies, pack)  catalog.pack.pack.cost_usd_per_kwh, catalog.pack.lightweighting.0.up_to_kg
    defaults.<path>      configs/model_defaults.toml defaults.auxiliary.power_w, defaults.battery.usable_fraction
    regulations.<path>   configs/regulations.toml    regulations.us_kei.max_width_m

`*` in the path stands for every entry at that level (every body, every origin, every segment).
`KEY=VALUE` sets a value (a TOML value: 0.25, true, "MX"); `KEY*=FACTOR` multiplies the numbers
found there. Overrides work on the parsed tables, before validation: the ordinary loaders then
validate every variant (`kei.schema.served_tables`), so a key a loader adds later works the day it
is added, and a bad value is reported by the loader that owns the key, naming its file and key.

Where the problem file itself sets a key of its price model (`[price]`) or of its regulatory profile
(`[regulation]`), that value is the one in force, so an override of the price model or profile key
changes the problem's entry too.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from kei.errors import UsageError

SOURCES = ("problem", "price", "catalog", "defaults", "regulations")
CATALOG_FILES = ("cells", "motors", "bodies", "pack")
SET, SCALE = "=", "*="


@dataclass(frozen=True)
class Override:
    key: str            # dotted: source, then the path in its TOML ("*" = every entry at that level)
    op: str             # SET or SCALE
    value: Any          # the new value, or the factor

    @property
    def text(self) -> str:
        return f"{self.key}{self.op}{format_value(self.value)}"

    def as_row(self) -> list:
        return [self.key, self.op, self.value]

    @classmethod
    def from_row(cls, row) -> "Override":
        key, op, value = row
        return cls(key, op, value)

    @property
    def source(self) -> str:
        return self.key.split(".", 1)[0]


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def parse_value(text: str) -> Any:
    """A TOML value (0.25, 1e4, true, "MX", [1, 2]); anything else is taken as a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def split_assignment(text: str, option: str) -> tuple[str, str, str]:
    """'KEY=VALUE' or 'KEY*=VALUE' -> (key, op, value text), the key checked for its source."""
    if "=" not in text:
        raise UsageError(option, f"{text!r}: expected KEY=VALUE or KEY*=FACTOR")
    key, value = text.split("=", 1)
    op = SET
    if key.endswith("*") and not key.endswith(".*"):
        key, op = key[:-1], SCALE
    check_key(key, option)
    return key, op, value


def parse_override(text: str, option: str = "--set") -> Override:
    key, op, value = split_assignment(text, option)
    parsed = parse_value(value)
    if op == SCALE and not _is_number(parsed):
        raise UsageError(option, f"{text!r}: a factor (*=) must be a number, got {value!r}")
    return Override(key, op, parsed)


def check_key(key: str, option: str) -> None:
    parts = key.split(".")
    if parts[0] not in SOURCES:
        raise UsageError(option, f"{key!r}: a key starts with its source, one of {', '.join(SOURCES)} "
                         "(e.g. catalog.bodies.*.cost_usd, price.tariff_rate_by_origin.MX)")
    if len(parts) < 2 or not all(parts):
        raise UsageError(option, f"{key!r}: name a key inside {parts[0]} (e.g. {parts[0]}.<table>.<key>)")
    if parts[0] == "catalog" and (len(parts) < 3 or parts[1] not in CATALOG_FILES):
        raise UsageError(option, f"{key!r}: a catalog key names its file ({', '.join(CATALOG_FILES)}), then the "
                         "part or table, then the key: catalog.cells.<id>.cost_usd_per_kwh")


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# ---- applying overrides to parsed tables (pure: returns new tables, copies only what changes) -----
def apply_path(table: dict, path: list[str], override: Override, where: str, *, create: bool = True) -> tuple[dict, int]:
    """`table` with `override` applied at `path`; also the number of values changed. Only the
    tables on the way are copied, so unchanged parts stay shared with the parsed original."""
    def fail(message: str):
        raise UsageError("--set", f"{override.text}: {message}")

    def walk(node, i: int, trail: str, spread: bool):
        # spread: reached through a "*"; an entry without the key is skipped when multiplying
        head = path[i]
        last = i == len(path) - 1
        if isinstance(node, list):
            if spread and head != "*" and not head.isdigit():
                return node, 0
            keys = range(len(node)) if head == "*" else [_index(head, node, trail, fail)]
        elif isinstance(node, dict):
            if head == "*":
                keys = list(node)
            elif head in node or (last and create and override.op == SET):
                keys = [head]
            elif spread and override.op == SCALE:
                return node, 0
            else:
                known = ", ".join(map(str, node)) or "nothing"
                fail(f"{where} has no {trail + head!r} (there: {known})")
        else:
            fail(f"{where}: {trail.rstrip('.')!r} is a value, not a table")
        out = list(node) if isinstance(node, list) else dict(node)
        changed = 0
        for k in keys:
            if last:
                out[k] = _new_value(node[k] if (isinstance(node, list) or k in node) else None, override,
                                    f"{where}: {trail}{k}", fail)
                changed += 1
            else:
                child = node[k]
                if not isinstance(child, (dict, list)):
                    if head == "*":
                        continue
                    fail(f"{where}: {trail}{k} is a value, not a table")
                out[k], n = walk(child, i + 1, f"{trail}{k}.", spread or head == "*")
                changed += n
        return out, changed

    new, changed = walk(table, 0, "", False)
    return new, changed


def _index(head: str, node: list, trail: str, fail) -> int:
    if not head.isdigit() or int(head) >= len(node):
        fail(f"{trail + head!r}: expected an index 0..{len(node) - 1} of the array (or *)")
    return int(head)


def _new_value(old, override: Override, where: str, fail):
    if override.op == SET:
        return override.value
    if isinstance(old, list) and old and all(_is_number(x) for x in old):
        return [x * override.value for x in old]
    if isinstance(old, bool) or not isinstance(old, (int, float)):
        fail(f"{where} is {old!r}, not a number to multiply")
    if isinstance(old, int):
        fail(f"{where} is an integer ({old}); set it with = instead")
    return old * override.value


# ---- which file a key's source is ---------------------------------------------------------------
@dataclass(frozen=True)
class SourceFiles:
    """The files the keys' sources stand for, as one problem resolves them."""

    problem: Path
    price: Path
    catalog: dict            # cells/motors/bodies/pack -> Path
    defaults: Path
    regulations: Path
    profile: str             # the regulatory profile the problem names

    def path(self, source: str, catalog_file: str | None = None) -> Path:
        if source == "catalog":
            return self.catalog[catalog_file]
        return getattr(self, source)


def apply_overrides(tables: Callable[[Path], dict], files: SourceFiles, overrides, *, skip_problem: bool = False
                    ) -> dict[str, dict]:
    """The tables changed by `overrides` (resolved path -> new table), read through `tables(path)`.
    Problem overrides come first; `skip_problem` leaves them out (they were applied before `files`
    was resolved). Every override must change at least one value."""
    changed: dict[str, dict] = {}

    def current(path: Path) -> dict:
        return changed[str(path)] if str(path) in changed else tables(path)

    for ov in sorted(overrides, key=lambda o: o.source != "problem"):
        if skip_problem and ov.source == "problem":
            continue
        parts = ov.key.split(".")
        if ov.source == "catalog":
            path, inner, where = files.path("catalog", parts[1]), parts[2:], files.catalog[parts[1]].name
        else:
            path, inner, where = files.path(ov.source), parts[1:], files.path(ov.source).name
        targets = [(path, inner, where)]
        # The problem's own [price] and [regulation] entries are the values in force: change them too.
        problem_table = current(files.problem)
        if ov.source == "price" and _has_path(problem_table.get("price"), inner):
            targets.append((files.problem, ["price", *inner], files.problem.name))
        if (ov.source == "regulations" and inner[0] in ("*", files.profile)
                and _has_path(problem_table.get("regulation"), inner[1:])):
            targets.append((files.problem, ["regulation", *inner[1:]], files.problem.name))
        total = 0
        for target, p, label in targets:
            new, n = apply_path(current(target), p, ov, label, create=target == path)
            changed[str(target)] = new
            total += n
        if total == 0:
            raise UsageError("--set", f"{ov.text}: matches no value in {where}")
    return changed


def _has_path(table, path: list[str]) -> bool:
    """True when `path` (with "*" for any entry) reaches at least one value in `table`."""
    if not path:
        return True
    if not isinstance(table, dict):
        return False
    head, rest = path[0], path[1:]
    if head == "*":
        return any(_has_path(v, rest) if rest else True for v in table.values())
    return head in table and (_has_path(table[head], rest) if rest else True)
