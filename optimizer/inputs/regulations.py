"""Regulatory profiles (`configs/regulations.toml`): the vehicle-class limits a problem names.

A profile is a table of limits; a key left out means no limit. A problem picks a profile and may
override any of its limits (`[regulation]` in the problem file).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from kei.errors import ConfigError
from kei.resources import config_file
from kei.schema import Field, read_toml, validate_table

LIMIT_FIELDS = (
    Field("description", str, "-", "what the class is", default=""),
    Field("max_length_m", float, "m", "overall length limit", default=None, min=0.5),
    Field("min_length_m", float, "m", "shortest body the problem accepts (a size class, e.g. full-length kei)",
          default=None, min=0.5),
    Field("max_width_m", float, "m", "overall width limit", default=None, min=0.5),
    Field("max_height_m", float, "m", "overall height limit", default=None, min=0.5),
    Field("max_peak_power_kw", float, "kW", "traction motor peak output limit", default=None, min=0.1),
    Field("max_continuous_power_kw", float, "kW", "traction motor continuous output limit", default=None, min=0.1),
    Field("max_top_speed_kmh", float, "km/h", "design speed cap; the car is governed to it", default=None, min=1),
    Field("max_gross_mass_kg", float, "kg", "curb mass + gross_load_kg limit", default=None, min=1),
    Field("gross_load_kg", float, "kg", "occupants + cargo counted in the gross mass", default=0.0, min=0),
    Field("max_unladen_mass_excl_battery_kg", float, "kg", "curb mass without the traction battery, limit",
          default=None, min=1),
    Field("us_crash_structure_required", bool, "-", "body must be built for the FMVSS crash tests", default=False),
    Field("required_content", list, "-", "content lines the class requires (ids in configs/catalog/content.toml)",
          default=[]),
)


@dataclass(frozen=True)
class Limits:
    """The limits of one regulatory profile after the problem's overrides; None = no limit."""

    profile: str
    description: str = ""
    max_length_m: float | None = None
    min_length_m: float | None = None
    max_width_m: float | None = None
    max_height_m: float | None = None
    max_peak_power_kw: float | None = None
    max_continuous_power_kw: float | None = None
    max_top_speed_kmh: float | None = None
    max_gross_mass_kg: float | None = None
    gross_load_kg: float = 0.0
    max_unladen_mass_excl_battery_kg: float | None = None
    us_crash_structure_required: bool = False
    required_content: tuple[str, ...] = ()

    def active(self) -> dict:
        """The limits that are set, for reports."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("profile", "description", "gross_load_kg", "required_content") and getattr(self, f.name) not in (None, False)}


def profile_names(path: str | Path | None = None) -> list[str]:
    return list(read_toml(path if path is not None else config_file("regulations.toml")))


def load_limits(profile: str, overrides: dict | None = None, *, file: str = "<problem>",
                path: str | Path | None = None) -> Limits:
    """Profile `profile` from the regulations file with `overrides` (a problem's [regulation] keys)
    on top. An unknown profile or key names the problem file and the key."""
    path = path if path is not None else config_file("regulations.toml")
    profiles = read_toml(path)
    if profile not in profiles:
        raise ConfigError(file, "regulation.profile", f"unknown profile {profile!r}; known: {', '.join(profiles)}")
    base = validate_table(profiles[profile], LIMIT_FIELDS, file=str(path), where=profile)
    checked = validate_table(overrides or {}, LIMIT_FIELDS, file=file, where="regulation")
    merged = {**base, **{k: checked[k] for k in (overrides or {})}}
    merged["required_content"] = tuple(str(x) for x in merged["required_content"])
    return Limits(profile=profile, **merged)
