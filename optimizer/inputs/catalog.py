"""Parts catalogs (`configs/catalog/`): declared schemas, validation, loading into `parts` dataclasses.

Four files, one job each:

- `cells.toml`, `motors.toml`, `bodies.toml`: one TOML table per part; the table name is the part id
  (`[catl_lf280k]`), the keys are the fields of `CellSpec`, `MotorSpec`, `BodySpec`.
- `pack.toml`: a `[pack]` table (`PackIntegration`) and the lightweighting cost curve as an array of
  `[[lightweighting]]` tables (`LightweightingSegment`), cheapest first.

Building the dataclasses from parsed dicts (`cells_from_dict`, ..., `catalog_from_dicts`) is pure and
usable by tests; `load_*` only read the files. Every error is a `ConfigError` naming the file, the
part and the key, e.g. `cells.toml: cell[catl_lf280k].capacity_ah: must be >= 0.1 Ah, got -3.0`.
"""
from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from kei.errors import ConfigError
from kei.optimizer.inputs.content import FILE_NAME as CONTENT_FILE
from kei.optimizer.inputs.content import load_content
from kei.optimizer.inputs.parts import BodySpec, Catalog, CellSpec, LightweightingSegment, MotorSpec, PackIntegration
from kei.resources import config_file
from kei.schema import REQUIRED, Field, read_toml, validate_table
from kei.units import RAD_S_PER_RPM
from kei.vehicle.files import BODY_FIELDS as VEHICLE_BODY_FIELDS
from kei.vehicle.files import CELL_FIELDS as VEHICLE_CELL_FIELDS
from kei.vehicle.files import DRIVELINE_FIELDS
from kei.vehicle.files import MOTOR_FIELDS as VEHICLE_MOTOR_FIELDS

FILE_NAMES = {"cells": "cells.toml", "motors": "motors.toml", "bodies": "bodies.toml", "pack": "pack.toml"}

# Region codes a part's `origin` may take; the problem's price model maps each to a tariff rate.
# EU is one customs union, so one code; the rest are ISO 3166 country codes.
ORIGINS = ("CN", "JP", "KR", "US", "EU", "MX", "IN", "TH", "TW", "VN")
CELL_FORMATS = ("prismatic", "pouch", "blade", "cylindrical")
BODY_MATERIALS = ("mild_steel", "high_strength_steel", "aluminium_intensive", "composite")
# volume_l of a cylinder against pi/4 d^2 h: datasheet tolerances (+-0.2 mm on 18-33 mm) and
# rounding allow ~2 %; a mm/cm or mL/L slip is off by far more.
CYLINDER_VOLUME_TOL = 0.03
PART_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def _reuse(fields, name: str, **changes) -> Field:
    """A field of the vehicle-file schema, so a catalog part always fits into a design file."""
    base = next(f for f in fields if f.name == name)
    return replace(base, **changes)


def _origin(kind: str) -> Field:
    return Field("origin", str, "-", f"region the {kind} is made in (tariffs)", choices=ORIGINS)


# ---- schemas ----------------------------------------------------------------------------------
CELL_FIELDS = (
    Field("name", str, "-", "maker and model"),
    _reuse(VEHICLE_CELL_FIELDS, "chemistry"),
    Field("format", str, "-", "cell format", choices=CELL_FORMATS),
    _reuse(VEHICLE_CELL_FIELDS, "capacity_ah"),
    _reuse(VEHICLE_CELL_FIELDS, "nominal_voltage_v"),
    _reuse(VEHICLE_CELL_FIELDS, "min_voltage_v"),
    _reuse(VEHICLE_CELL_FIELDS, "max_voltage_v"),
    Field("mass_kg", float, "kg", "cell mass", min=0.001, max=100),
    Field("volume_l", float, "L", "cell volume (outer dimensions, terminals excluded)", min=0.001, max=100),
    Field("diameter_mm", float, "mm", "can diameter of a cylindrical cell (checked against volume_l)", default=None,
          min=5, max=100),
    Field("height_mm", float, "mm", "can height of a cylindrical cell (checked against volume_l)", default=None,
          min=10, max=500),
    _reuse(VEHICLE_CELL_FIELDS, "max_discharge_c"),
    _reuse(VEHICLE_CELL_FIELDS, "peak_discharge_c", default=REQUIRED,
           description="max short-term discharge rate: the datasheet's pulse (10 s unless the comment says otherwise)"),
    _reuse(VEHICLE_CELL_FIELDS, "max_charge_c", default=REQUIRED),
    _reuse(VEHICLE_CELL_FIELDS, "internal_resistance_mohm"),
    Field("cost_usd_per_kwh", float, "USD/kWh", "cell cost to the car maker, before tariffs", min=1, max=2000),
    _origin("cell"),
)

MOTOR_FIELDS = (
    Field("name", str, "-", "maker, model and the car it drives"),
    _reuse(VEHICLE_MOTOR_FIELDS, "peak_power_kw"),
    _reuse(VEHICLE_MOTOR_FIELDS, "continuous_power_kw", default=REQUIRED, max=1000,
           description="power the unit holds indefinitely (thermal limit)"),
    _reuse(VEHICLE_MOTOR_FIELDS, "peak_torque_nm", default=REQUIRED, max=5000, description="peak torque at the shaft"),
    _reuse(VEHICLE_MOTOR_FIELDS, "max_speed_rpm", default=REQUIRED, max=50000, description="max motor speed"),
    Field("peak_efficiency", float, "-", "peak motor + inverter efficiency", min=0.5, max=0.99),
    Field("efficiency_class", str, "-", "machine and inverter type, e.g. 'PMSM, Si IGBT inverter'"),
    Field("min_voltage_v", float, "V", "lowest DC input voltage of the inverter", min=10, max=1500),
    Field("max_voltage_v", float, "V", "highest DC input voltage of the inverter", min=10, max=1500),
    Field("mass_kg", float, "kg", "drive unit mass: motor + inverter + reduction gear", min=1, max=1000),
    Field("cost_usd", float, "USD", "drive unit cost to the car maker, before tariffs", min=1, max=100000),
    _origin("drive unit"),
    _reuse(DRIVELINE_FIELDS, "gear_ratio", default=None,
           description="motor speed / wheel speed; omitted = the model default (configs/model_defaults.toml)"),
)

BODY_FIELDS = (
    Field("name", str, "-", "what the body is and what it resembles"),
    Field("material", str, "-", "main structural material", choices=BODY_MATERIALS),
    _reuse(VEHICLE_BODY_FIELDS, "length_m"),
    _reuse(VEHICLE_BODY_FIELDS, "width_m"),
    _reuse(VEHICLE_BODY_FIELDS, "height_m"),
    Field("glider_mass_kg", float, "kg", "curb mass without battery pack and drive unit", min=50, max=5000),
    _reuse(VEHICLE_BODY_FIELDS, "drag_coefficient"),
    _reuse(VEHICLE_BODY_FIELDS, "frontal_area_m2"),
    _reuse(VEHICLE_BODY_FIELDS, "rolling_resistance_coefficient"),
    Field("battery_volume_l", float, "L", "space for the pack (pack volume, not cell volume)", min=1, max=5000),
    Field("lightweighting_max_kg", float, "kg", "mass that can be bought out of this glider", min=0, max=2000),
    Field("us_crash_compliant", bool, "-", "structure meant to pass the FMVSS frontal, side and roof tests"),
    Field("cost_usd", float, "USD", "glider cost to the car maker, before tariffs", min=1, max=200000),
    _origin("glider"),
)

PACK_FIELDS = (
    Field("cost_usd_per_kwh", float, "USD/kWh", "pack cost over cell cost: housing, BMS, cooling, wiring", min=0, max=1000),
    Field("cell_to_pack_mass_ratio", float, "-", "cell mass / pack mass", min=0.2, max=1.0),
    Field("cell_to_pack_volume_ratio", float, "-", "cell volume / pack volume", min=0.1, max=1.0),
    Field("min_series", int, "-", "fewest cells in series the model may choose", min=1, max=1000),
    Field("max_series", int, "-", "most cells in series the model may choose", min=1, max=1000),
    Field("min_parallel", int, "-", "fewest cells in parallel", min=1, max=1000),
    Field("max_parallel", int, "-", "most strings in parallel for every cell; omitted = per cell, derived from the "
          "largest battery space at the fewest cells in series a drive unit takes (a model bound)", default=None,
          min=1, max=1000),
)

SEGMENT_FIELDS = (
    Field("up_to_kg", float, "kg", "cumulative mass reduction where this segment ends", min=0.001, max=2000),
    Field("cost_usd_per_kg", float, "USD/kg", "marginal cost of each kg removed in this segment", min=0, max=1000),
)

SCHEMAS = {"cells": CELL_FIELDS, "motors": MOTOR_FIELDS, "bodies": BODY_FIELDS, "pack": PACK_FIELDS,
           "lightweighting": SEGMENT_FIELDS}
_PART_LABEL = {"cells": "cell", "motors": "motor", "bodies": "body"}


# ---- pure builders: parsed dicts -> dataclasses -----------------------------------------------
def _parts(raw: Mapping[str, Any], kind: str, file: str, build) -> tuple:
    label = _PART_LABEL[kind]
    if not isinstance(raw, Mapping):
        raise ConfigError(file, None, f"expected one table per {label}, got {type(raw).__name__}")
    if not raw:
        raise ConfigError(file, None, f"no {label} defined (one [table] per {label}, named by its id)")
    out = []
    for part_id, table in raw.items():
        where = f"{label}[{part_id}]"
        if not isinstance(table, Mapping):
            raise ConfigError(file, part_id, f"expected a [{part_id}] table describing one {label}, got {table!r}")
        if not PART_ID.match(part_id):
            raise ConfigError(file, where, "a part id (the table name) takes lowercase letters, digits and '_'")
        values = validate_table(table, SCHEMAS[kind], file=file, where=where)
        part = build(id=part_id, **values)
        _check_part(part, file, where)
        out.append(part)
    return tuple(out)


def _check_part(part, file: str, where: str) -> None:
    """Cross-checks between keys of one part: the physics must hold together."""
    if isinstance(part, CellSpec):
        if not part.min_voltage_v < part.nominal_voltage_v < part.max_voltage_v:
            raise ConfigError(file, f"{where}.nominal_voltage_v", "needs min_voltage_v < nominal_voltage_v < max_voltage_v, "
                              f"got {part.min_voltage_v} < {part.nominal_voltage_v} < {part.max_voltage_v}")
        if (part.diameter_mm is None) != (part.height_mm is None) or (
                part.diameter_mm is not None and part.format != "cylindrical"):
            raise ConfigError(file, f"{where}.diameter_mm", "diameter_mm and height_mm describe a cylindrical can: "
                              "give both, and only for format = \"cylindrical\"")
        if part.diameter_mm is not None:
            can_l = math.pi / 4 * part.diameter_mm**2 * part.height_mm / 1e6
            if abs(part.volume_l / can_l - 1) > CYLINDER_VOLUME_TOL:
                raise ConfigError(file, f"{where}.volume_l", f"{part.volume_l} L is not the {part.diameter_mm:g} x "
                                  f"{part.height_mm:g} mm cylinder's {can_l:.4g} L")
        if part.peak_discharge_c < part.max_discharge_c:
            raise ConfigError(file, f"{where}.peak_discharge_c", f"{part.peak_discharge_c} 1/h is below the continuous "
                              f"max_discharge_c {part.max_discharge_c} 1/h")
    elif isinstance(part, MotorSpec):
        if part.continuous_power_kw > part.peak_power_kw:
            raise ConfigError(file, f"{where}.continuous_power_kw",
                              f"{part.continuous_power_kw} kW exceeds peak_power_kw {part.peak_power_kw} kW")
        if part.min_voltage_v >= part.max_voltage_v:
            raise ConfigError(file, f"{where}.min_voltage_v",
                              f"{part.min_voltage_v} V must be below max_voltage_v {part.max_voltage_v} V")
        # Peak power is reached at or below max speed with at most peak torque: P <= T * omega_max.
        ceiling_kw = part.peak_torque_nm * part.max_speed_rpm * RAD_S_PER_RPM / 1000.0
        if part.peak_power_kw > ceiling_kw:
            raise ConfigError(file, f"{where}.peak_power_kw",
                              f"{part.peak_power_kw} kW is more than peak_torque_nm x max_speed_rpm allows "
                              f"({ceiling_kw:.1f} kW)")
    elif isinstance(part, BodySpec):
        box_m2 = part.width_m * part.height_m
        if part.frontal_area_m2 > box_m2:
            raise ConfigError(file, f"{where}.frontal_area_m2",
                              f"{part.frontal_area_m2} m2 is larger than width x height ({box_m2:.2f} m2)")
        if part.lightweighting_max_kg >= part.glider_mass_kg:
            raise ConfigError(file, f"{where}.lightweighting_max_kg",
                              f"{part.lightweighting_max_kg} kg is not less than glider_mass_kg {part.glider_mass_kg} kg")


def cells_from_dict(raw: Mapping[str, Any], file: str = "cells.toml") -> tuple[CellSpec, ...]:
    """Cells from a parsed `cells.toml` ({id: table})."""
    return _parts(raw, "cells", file, CellSpec)


def motors_from_dict(raw: Mapping[str, Any], file: str = "motors.toml") -> tuple[MotorSpec, ...]:
    """Drive units from a parsed `motors.toml` ({id: table})."""
    return _parts(raw, "motors", file, MotorSpec)


def bodies_from_dict(raw: Mapping[str, Any], file: str = "bodies.toml") -> tuple[BodySpec, ...]:
    """Bodies/gliders from a parsed `bodies.toml` ({id: table})."""
    return _parts(raw, "bodies", file, BodySpec)


def pack_from_dict(raw: Mapping[str, Any], file: str = "pack.toml"
                   ) -> tuple[PackIntegration, tuple[LightweightingSegment, ...]]:
    """Pack integration and the lightweighting cost curve from a parsed `pack.toml`."""
    top = validate_table(raw, (), file=file, allow_subtables=("pack", "lightweighting"))
    if "pack" not in top:
        raise ConfigError(file, "pack", "missing required table [pack]")
    pack = PackIntegration(**validate_table(top["pack"], PACK_FIELDS, file=file, where="pack"))
    for low, high in (("min_series", "max_series"), ("min_parallel", "max_parallel")):
        if getattr(pack, high) is not None and getattr(pack, low) > getattr(pack, high):
            raise ConfigError(file, f"pack.{low}", f"{getattr(pack, low)} exceeds pack.{high} {getattr(pack, high)}")
    curve = top.get("lightweighting", [])
    if not isinstance(curve, list):
        raise ConfigError(file, "lightweighting", "expected an array of [[lightweighting]] tables")
    segments = tuple(LightweightingSegment(**validate_table(seg, SEGMENT_FIELDS, file=file, where=f"lightweighting[{i}]"))
                     for i, seg in enumerate(curve))
    for i in range(1, len(segments)):
        prev, seg = segments[i - 1], segments[i]
        if seg.up_to_kg <= prev.up_to_kg:
            raise ConfigError(file, f"lightweighting[{i}].up_to_kg",
                              f"{seg.up_to_kg} kg must be above the previous segment's {prev.up_to_kg} kg")
        if seg.cost_usd_per_kg < prev.cost_usd_per_kg:
            raise ConfigError(file, f"lightweighting[{i}].cost_usd_per_kg",
                              f"{seg.cost_usd_per_kg} USD/kg is below the previous segment's {prev.cost_usd_per_kg}: "
                              "the curve must be convex (marginal cost never falls)")
    return pack, segments


def catalog_from_dicts(cells: Mapping, motors: Mapping, bodies: Mapping, pack: Mapping, *,
                       files: Mapping[str, str] | None = None, source: str = "") -> Catalog:
    """A validated `Catalog` from the four parsed files. `files` names them in messages
    (keys cells, motors, bodies, pack; default: the bare file names)."""
    names = {**FILE_NAMES, **(files or {})}
    cell_specs = cells_from_dict(cells, names["cells"])
    motor_specs = motors_from_dict(motors, names["motors"])
    body_specs = bodies_from_dict(bodies, names["bodies"])
    pack_spec, segments = pack_from_dict(pack, names["pack"])
    _check_unique_ids({"cells": cell_specs, "motors": motor_specs, "bodies": body_specs}, names)
    curve_end_kg = segments[-1].up_to_kg if segments else 0.0
    for body in body_specs:
        if body.lightweighting_max_kg > curve_end_kg:
            raise ConfigError(names["bodies"], f"body[{body.id}].lightweighting_max_kg",
                              f"{body.lightweighting_max_kg} kg is beyond the lightweighting cost curve in "
                              f"{names['pack']}, which ends at {curve_end_kg} kg")
    return Catalog(cells=cell_specs, motors=motor_specs, bodies=body_specs, pack=pack_spec,
                   lightweighting=segments, source=source)


def _check_unique_ids(parts_by_kind: Mapping[str, tuple], names: Mapping[str, str]) -> None:
    # Design files and reports name parts by id alone, so an id must mean one part in the catalog.
    seen: dict[str, str] = {}
    for kind, parts in parts_by_kind.items():
        for part in parts:
            if part.id in seen:
                raise ConfigError(names[kind], f"{_PART_LABEL[kind]}[{part.id}]",
                                  f"id already used by a {_PART_LABEL[seen[part.id]]} in {names[seen[part.id]]}; "
                                  "ids must be unique across the catalog")
            seen[part.id] = kind


# ---- loaders: files -> dataclasses ------------------------------------------------------------
def load_cells(path: str | Path) -> tuple[CellSpec, ...]:
    return cells_from_dict(read_toml(path), str(path))


def load_motors(path: str | Path) -> tuple[MotorSpec, ...]:
    return motors_from_dict(read_toml(path), str(path))


def load_bodies(path: str | Path) -> tuple[BodySpec, ...]:
    return bodies_from_dict(read_toml(path), str(path))


def load_pack(path: str | Path) -> tuple[PackIntegration, tuple[LightweightingSegment, ...]]:
    return pack_from_dict(read_toml(path), str(path))


def load_catalog(directory: str | Path | None = None) -> Catalog:
    """Read and validate the four catalog files in `directory`; by default each file from the lab's
    config folder if it has one (kei.resources), else the bundled `configs/catalog/`."""
    if directory is None:
        paths = {kind: config_file(f"catalog/{name}") for kind, name in FILE_NAMES.items()}
        directory = paths["cells"].parent
    else:
        directory = Path(directory)
        if directory.is_file():
            raise ConfigError(str(directory), None, "is a file; a catalog is a folder of cells.toml, motors.toml, "
                              "bodies.toml and pack.toml")
        if not directory.is_dir():
            raise ConfigError(str(directory), None, "catalog directory not found")
        paths = {kind: directory / name for kind, name in FILE_NAMES.items()}
    raw = {kind: read_toml(path) for kind, path in paths.items()}
    catalog = catalog_from_dicts(**raw, files={k: str(p) for k, p in paths.items()}, source=str(directory))
    # content.toml is optional: a catalog without it has no required lines and no options.
    content_path = Path(directory) / CONTENT_FILE
    if content_path.is_file():
        catalog = replace(catalog, content=load_content(content_path))
    return catalog
