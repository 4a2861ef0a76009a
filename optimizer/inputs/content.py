"""Vehicle content (`configs/catalog/content.toml`): what a market requires, and what a design may add.

    default_model_year = 2027            # a problem without `model_year` is this model year
    [required.<id>]                      # a line a regulatory profile may require (its `required_content`)
    standard, description, cost_usd, mass_kg, from_model_year, in_glider
    [options.<group>.<id>]               # one option of each group is chosen by the MILP
    name, cost_usd, mass_kg, drag_area_scale, crr_scale, auxiliary_power_w, cold_auxiliary_power_w

`cold_auxiliary_power_w` is the option's whole draw on the cold duty (the baseline's too).
A required line with `in_glider = true` is content the catalog's glider cost and mass already carry
(it is listed so a report shows what the floor is made of; it is not added again). Option figures are
deltas against the glider and the price model's fixed content: the first option of a group is the
baseline the catalog describes (zero cost, mass and effect). Every error names the file and key.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from kei.errors import ConfigError
from kei.schema import Field, read_toml, validate_table

FILE_NAME = "content.toml"
CLIMATES = ("test", "cold")   # test: the procedure as written (HVAC off); cold: a winter duty with the HVAC load
CONTENT_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")

REQUIRED_FIELDS = (
    Field("standard", str, "-", "the rule that requires it (FMVSS 208, UN R152, ...)"),
    Field("description", str, "-", "what the content is", default=""),
    Field("cost_usd", float, "USD", "cost to the car maker per car, before duties", min=0.0, max=20000),
    Field("mass_kg", float, "kg", "mass it adds to the car", min=0.0, max=500),
    Field("from_model_year", int, "-", "first model year it applies to (0: always)", default=0, min=0, max=2100),
    Field("in_glider", bool, "-", "the glider's cost and mass already carry it (listed, not added)", default=False),
)
OPTION_FIELDS = (
    Field("name", str, "-", "what the option is"),
    Field("cost_usd", float, "USD", "cost per car against the group's baseline, before duties", min=-20000, max=20000),
    Field("mass_kg", float, "kg", "mass against the baseline", min=-500, max=500),
    Field("drag_area_scale", float, "-", "multiplies the body's drag area (Cd A)", default=1.0, min=0.5, max=1.5),
    Field("crr_scale", float, "-", "multiplies the body's rolling resistance coefficient", default=1.0, min=0.3, max=2.0),
    Field("auxiliary_power_w", float, "W", "auxiliary load it adds on the test procedure (HVAC off)", default=0.0,
          min=-5000, max=10000),
    Field("cold_auxiliary_power_w", float, "W", "auxiliary load it adds on the cold duty (climate = \"cold\")",
          default=0.0, min=-5000, max=10000),
)


@dataclass(frozen=True)
class RequiredLine:
    id: str
    standard: str
    cost_usd: float
    mass_kg: float
    description: str = ""
    from_model_year: int = 0
    in_glider: bool = False


@dataclass(frozen=True)
class ContentOption:
    id: str
    group: str
    name: str
    cost_usd: float
    mass_kg: float
    drag_area_scale: float = 1.0
    crr_scale: float = 1.0
    auxiliary_power_w: float = 0.0
    cold_auxiliary_power_w: float = 0.0

    def aux_w(self, climate: str) -> float:
        return self.cold_auxiliary_power_w if climate == "cold" else self.auxiliary_power_w

    def affects_energy(self, climate: str) -> bool:
        return self.drag_area_scale != 1.0 or self.crr_scale != 1.0 or self.aux_w(climate) != 0.0


@dataclass(frozen=True)
class Content:
    required: tuple[RequiredLine, ...] = ()
    options: tuple[ContentOption, ...] = ()       # grouped, each group's baseline first
    default_model_year: int = 2027
    file: str = ""

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o.group for o in self.options))

    def group_options(self, group: str) -> tuple[int, ...]:
        return tuple(i for i, o in enumerate(self.options) if o.group == group)

    def line(self, line_id: str) -> RequiredLine:
        for r in self.required:
            if r.id == line_id:
                return r
        raise KeyError(line_id)

    def option_index(self, option_id: str) -> int:
        for i, o in enumerate(self.options):
            if o.id == option_id:
                return i
        raise KeyError(option_id)

    @property
    def combinations(self) -> int:
        n = 1
        for g in self.groups:
            n *= len(self.group_options(g))
        return n


def content_from_dict(raw: Mapping[str, Any], file: str = FILE_NAME) -> Content:
    top = validate_table(raw, (Field("default_model_year", int, "-", "model year of a problem that names none",
                                     default=2027, min=1990, max=2100),),
                         file=file, allow_subtables=("required", "options"))
    required = []
    for line_id, table in _tables(top.get("required", {}), file, "required"):
        required.append(RequiredLine(id=line_id, **validate_table(table, REQUIRED_FIELDS, file=file,
                                                                  where=f"required.{line_id}")))
    options, seen = [], {r.id for r in required}
    for group, table in _tables(top.get("options", {}), file, "options"):
        members = list(_tables(table, file, f"options.{group}"))
        if len(members) < 2:
            raise ConfigError(file, f"options.{group}", "a group needs its baseline (first) and at least one option")
        for k, (option_id, t) in enumerate(members):
            where = f"options.{group}.{option_id}"
            if option_id in seen:
                raise ConfigError(file, where, "id already used: content ids are unique across the file")
            seen.add(option_id)
            opt = ContentOption(id=option_id, group=group, **validate_table(t, OPTION_FIELDS, file=file, where=where))
            # The baseline is what the catalog describes on the test procedure; on the cold duty it may
            # draw power (a PTC heater heats the cabin).
            if k == 0 and (opt.cost_usd or opt.mass_kg or opt.affects_energy("test")):
                raise ConfigError(file, where, "the first option of a group is its baseline (what the glider carries): "
                                  "zero cost, mass and effect on the test procedure")
            options.append(opt)
    return Content(required=tuple(required), options=tuple(options), default_model_year=top["default_model_year"],
                   file=file)


def _tables(raw, file: str, where: str):
    if not isinstance(raw, Mapping):
        raise ConfigError(file, where, f"expected tables, got {raw!r}")
    for key, table in raw.items():
        if not CONTENT_ID.match(key):
            raise ConfigError(file, f"{where}.{key}", "an id takes lowercase letters, digits and '_'")
        if not isinstance(table, Mapping):
            raise ConfigError(file, f"{where}.{key}", f"expected a table, got {table!r}")
        yield key, table


def load_content(path: str | Path) -> Content:
    return content_from_dict(read_toml(path), str(path))

