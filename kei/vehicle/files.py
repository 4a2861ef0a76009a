"""Vehicle (and design) files: schema, load with the calibrated defaults, write.

A vehicle file is TOML with units in the key names. Required keys describe the car; every optional
key takes its value from `configs/model_defaults.toml`, the one generic calibrated set. A design file
written by `kei solve --out` is a vehicle file with the pack's series/parallel counts and its cell.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from dataclasses import fields as dc_fields
from pathlib import Path
from typing import Any

from kei.errors import ConfigError
from kei.resources import config_file, named
from kei.schema import FROM_DEFAULTS, Field, read_toml, validate_table

CHEMISTRIES = ("lfp", "nmc", "nca", "lmfp", "sodium_ion")

# ---- schemas, one per table -------------------------------------------------------------------
TOP_FIELDS = (
    Field("name", str, "-", "vehicle name"),
    Field("description", str, "-", "free text", default=""),
    Field("top_speed_kmh", float, "km/h", "governed top speed; none = limited by power and motor speed", default=None, min=1),
)
BODY_FIELDS = (
    Field("id", str, "-", "catalog id of the body/glider", default=""),
    Field("curb_mass_kg", float, "kg", "curb mass, ready to drive, no occupants", min=50, max=10000),
    Field("drag_coefficient", float, "-", "aerodynamic drag coefficient Cd", min=0.05, max=2.0),
    Field("frontal_area_m2", float, "m2", "frontal area A", min=0.2, max=20.0),
    Field("rolling_resistance_coefficient", float, "-", "tyre rolling resistance coefficient Crr", min=0.0, max=0.1),
    Field("length_m", float, "m", "overall length", min=0.5, max=20),
    Field("width_m", float, "m", "overall width", min=0.5, max=5),
    Field("height_m", float, "m", "overall height", min=0.5, max=5),
    Field("wheel_radius_m", float, "m", "tyre rolling radius", default=FROM_DEFAULTS, min=0.1, max=1.0),
)
CELL_FIELDS = (
    Field("id", str, "-", "catalog id of the cell"),
    Field("chemistry", str, "-", "cell chemistry", choices=CHEMISTRIES),
    Field("capacity_ah", float, "Ah", "rated capacity", min=0.1, max=2000),
    Field("nominal_voltage_v", float, "V", "nominal cell voltage", min=0.5, max=6),
    Field("min_voltage_v", float, "V", "discharge cut-off voltage", min=0.5, max=6),
    Field("max_voltage_v", float, "V", "charge cut-off voltage", min=0.5, max=6),
    Field("internal_resistance_mohm", float, "mOhm", "DC internal resistance at 50 % SOC, 25 C", min=0.0, max=1000),
    Field("max_discharge_c", float, "1/h", "max continuous discharge rate", min=0.01, max=100),
    Field("peak_discharge_c", float, "1/h", "max short-term discharge rate (datasheet pulse, typically 10 s); "
          "none = max_discharge_c", default=None, min=0.01, max=100),
    Field("max_charge_c", float, "1/h", "max continuous charge rate (limits regen)", default=1.0, min=0.01, max=100),
    Field("mass_kg", float, "kg", "cell mass", default=0.0, min=0.0),
)
BATTERY_FIELDS = (
    Field("energy_kwh", float, "kWh", "stated (total) pack energy", min=0.1, max=500),
    Field("nominal_voltage_v", float, "V", "nominal pack voltage", min=1, max=1500),
    Field("chemistry", str, "-", "cell chemistry", choices=CHEMISTRIES),
    Field("usable_fraction", float, "-", "share of stated energy usable before cut-off", default=FROM_DEFAULTS, min=0.1, max=1.0),
    Field("loss_fraction_at_1c", float, "-", "resistive loss share at 1C when no cell is given", default=FROM_DEFAULTS, min=0.0, max=0.5),
    Field("series", int, "-", "cells in series", default=None, min=1),
    Field("parallel", int, "-", "cells in parallel", default=None, min=1),
    Field("cell_id", str, "-", "catalog id of the cell", default=""),
)
MOTOR_FIELDS = (
    Field("id", str, "-", "catalog id of the motor + inverter", default=""),
    Field("peak_power_kw", float, "kW", "peak mechanical output power", min=0.1, max=1000),
    Field("continuous_power_kw", float, "kW", "continuous power", default=None, min=0.1),
    Field("peak_torque_nm", float, "N m", "peak torque; none = power-limited only", default=None, min=1),
    Field("max_speed_rpm", float, "rpm", "max motor speed; none = unlimited", default=None, min=100),
    Field("efficiency_power_fractions", list, "-", "motor map: output power / peak power", default=FROM_DEFAULTS),
    Field("efficiency_values", list, "-", "motor map: motor + inverter efficiency at those fractions", default=FROM_DEFAULTS),
)
DRIVELINE_FIELDS = (
    Field("efficiency", float, "-", "gear + joints efficiency", default=FROM_DEFAULTS, min=0.5, max=1.0),
    Field("gear_ratio", float, "-", "motor speed / wheel speed", default=FROM_DEFAULTS, min=1, max=30),
    Field("rotating_mass_factor", float, "-", "equivalent rotating inertia as a mass multiplier", default=FROM_DEFAULTS, min=1.0, max=1.3),
)
BRAKING_KINDS = ("cooperative", "blended")
REGEN_FIELDS = (
    Field("braking", str, "-", "cooperative (brake-by-wire: the motor brakes first) or blended (friction brakes "
          "and motor share every stop)", default=FROM_DEFAULTS, choices=BRAKING_KINDS),
    Field("max_fraction", float, "-", "share of braking power the motor recovers at speed; none = the "
          "braking kind's share", default=None, min=0.0, max=1.0),
    Field("cooperative_fraction", float, "-", "share recovered with cooperative braking", default=FROM_DEFAULTS, min=0.0, max=1.0),
    Field("blended_fraction", float, "-", "share recovered with blended braking", default=FROM_DEFAULTS, min=0.0, max=1.0),
    Field("fade_coefficient", float, "-", "low-speed fade: share = max / (1 + a exp(-b v)), a", default=FROM_DEFAULTS, min=0.0),
    Field("fade_rate_per_kmh", float, "1/(km/h)", "low-speed fade: b", default=FROM_DEFAULTS, min=0.0),
)
AUX_FIELDS = (Field("power_w", float, "W", "constant auxiliary load", default=FROM_DEFAULTS, min=0.0, max=20000),)
CATEGORIES = ("passenger", "freight")
LOAD_FIELDS = (
    Field("category", str, "-", "passenger or freight (Japanese 4-number / EU N1): picks the test-mass load share",
          default="passenger", choices=CATEGORIES),
    Field("seats", int, "-", "seating capacity (used by the test-mass rules)", default=FROM_DEFAULTS, min=1, max=20),
    Field("max_payload_kg", float, "kg", "maximum payload beyond the occupants (spec sheet's max load, 350 kg for "
          "kei vans); 0 for passenger cars", default=0.0, min=0.0, max=5000),
    Field("payload_kg", float, "kg", "test payload on top of curb mass; overrides every procedure's test-mass rule; "
          "none = the procedure's rule", default=None, min=0.0, max=5000),
)
ROAD_LOAD_FIELDS = (
    Field("f0_n", float, "N", "coastdown target coefficient: constant force (replaces Crr x m g); give all three",
          default=None, min=0.0, max=5000),
    Field("f1_n_per_mps", float, "N/(m/s)", "coastdown target coefficient: force per speed", default=None, min=-100, max=500),
    Field("f2_n_per_mps2", float, "N/(m/s)^2", "coastdown target coefficient: force per speed squared (replaces "
          "1/2 rho Cd A)", default=None, min=0.0, max=20),
    Field("parasitic_rolling_coefficient", float, "-", "without coastdown coefficients: drag a coastdown sees beyond "
          "the tyres' Crr (bearings, brake pads, driveline), as a coefficient of m g", default=FROM_DEFAULTS, min=0.0, max=0.02),
    Field("aero_drag_factor", float, "-", "without coastdown coefficients: coastdown drag area over the maker's Cd x A "
          "(wheel rotation, cooling flow, mirrors, yaw)", default=FROM_DEFAULTS, min=0.5, max=2.0),
)
CHARGING_FIELDS = (
    Field("ac_dc_efficiency", float, "-", "energy into the cells over energy from the wall (charger + charging "
          "losses): turns the model's DC figures into a label's AC consumption", default=FROM_DEFAULTS, min=0.5, max=1.0),
)
ENV_FIELDS = (
    Field("air_density_kg_m3", float, "kg/m3", "air density", default=FROM_DEFAULTS, min=0.5, max=1.5),
    Field("gravity_m_s2", float, "m/s2", "gravitational acceleration", default=FROM_DEFAULTS, min=9.7, max=9.9),
)
DESIGN_FIELDS = (
    Field("problem", str, "-", "problem file the design answers", default=""),
    Field("cycle", str, "-", "cycle the design was optimised on", default=""),
    Field("price_usd", float, "USD", "retail price from the price model", default=None),
    Field("predicted_range_km", float, "km", "range the solver predicted and verified", default=None),
    Field("solver", str, "-", "how the design was found", default=""),
    Field("assembly_site", str, "-", "where the price model has the car assembled", default=""),
    Field("duty_usd", float, "USD", "duties in the price (by line in the file's header)", default=None),
)
SECTIONS = {
    "body": BODY_FIELDS, "battery": BATTERY_FIELDS, "motor": MOTOR_FIELDS, "driveline": DRIVELINE_FIELDS,
    "regen": REGEN_FIELDS, "auxiliary": AUX_FIELDS, "load": LOAD_FIELDS, "road_load": ROAD_LOAD_FIELDS,
    "charging": CHARGING_FIELDS, "environment": ENV_FIELDS, "design": DESIGN_FIELDS,
}
REQUIRED_SECTIONS = ("body", "battery", "motor")
CONSISTENCY_TOLERANCE = 0.01  # stated pack energy/voltage vs series x parallel x cell, relative


# ---- dataclasses ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    id: str
    chemistry: str
    capacity_ah: float
    nominal_voltage_v: float
    min_voltage_v: float
    max_voltage_v: float
    internal_resistance_mohm: float
    max_discharge_c: float                 # continuous, 1/h
    peak_discharge_c: float | None = None  # short-term (datasheet pulse, typically 10 s), 1/h; None = max_discharge_c
    max_charge_c: float = 1.0
    mass_kg: float = 0.0

    def __post_init__(self) -> None:
        # A file without a peak rate keeps its old meaning: the continuous rate is the only limit.
        if self.peak_discharge_c is None:
            object.__setattr__(self, "peak_discharge_c", self.max_discharge_c)

    @property
    def energy_wh(self) -> float:
        return self.capacity_ah * self.nominal_voltage_v


@dataclass(frozen=True)
class Body:
    curb_mass_kg: float
    drag_coefficient: float
    frontal_area_m2: float
    rolling_resistance_coefficient: float
    length_m: float
    width_m: float
    height_m: float
    wheel_radius_m: float
    id: str = ""


@dataclass(frozen=True)
class Battery:
    """Pack. Current and power are positive on discharge."""

    energy_kwh: float
    nominal_voltage_v: float
    chemistry: str
    usable_fraction: float
    loss_fraction_at_1c: float
    series: int | None = None
    parallel: int | None = None
    cell_id: str = ""
    cell: Cell | None = None

    @property
    def usable_energy_wh(self) -> float:
        return self.energy_kwh * 1000.0 * self.usable_fraction

    @property
    def resistance_ohm(self) -> float:
        if self.cell is not None and self.series and self.parallel:
            return self.cell.internal_resistance_mohm / 1000.0 * self.series / self.parallel
        # No cell: resistance that loses `loss_fraction_at_1c` of the power at a 1C discharge.
        return self.loss_fraction_at_1c * self.nominal_voltage_v**2 / (self.energy_kwh * 1000.0)

    @property
    def max_discharge_current_a(self) -> float:
        """Continuous discharge current (A): what the pack sustains for minutes (a grade, top speed)."""
        if self.cell is not None and self.parallel:
            return self.cell.capacity_ah * self.cell.max_discharge_c * self.parallel
        return math.inf

    @property
    def peak_discharge_current_a(self) -> float:
        """Short-term discharge current (A): what the pack gives for a datasheet pulse (typically 10 s),
        so for any one 1-s step of a drive cycle (acceleration, a cycle's power peaks)."""
        if self.cell is not None and self.parallel:
            return self.cell.capacity_ah * self.cell.peak_discharge_c * self.parallel
        return math.inf

    @property
    def max_charge_current_a(self) -> float:
        if self.cell is not None and self.parallel:
            return self.cell.capacity_ah * self.cell.max_charge_c * self.parallel
        return math.inf


@dataclass(frozen=True)
class Motor:
    peak_power_kw: float
    efficiency_power_fractions: tuple[float, ...]
    efficiency_values: tuple[float, ...]
    id: str = ""
    continuous_power_kw: float | None = None
    peak_torque_nm: float | None = None
    max_speed_rpm: float | None = None


@dataclass(frozen=True)
class Driveline:
    efficiency: float
    gear_ratio: float
    rotating_mass_factor: float


@dataclass(frozen=True)
class Regen:
    braking: str
    max_fraction: float | None    # None: the braking kind's share
    cooperative_fraction: float
    blended_fraction: float
    fade_coefficient: float
    fade_rate_per_kmh: float

    @property
    def share(self) -> float:
        """Share of braking power recovered at speed."""
        if self.max_fraction is not None:
            return self.max_fraction
        return self.cooperative_fraction if self.braking == "cooperative" else self.blended_fraction


@dataclass(frozen=True)
class Auxiliary:
    power_w: float


@dataclass(frozen=True)
class Load:
    seats: int
    category: str = "passenger"
    max_payload_kg: float = 0.0
    payload_kg: float | None = None   # None: the procedure's test-mass rule


@dataclass(frozen=True)
class RoadLoad:
    """Coastdown target coefficients (all three, or none) and the convention used without them."""

    parasitic_rolling_coefficient: float
    aero_drag_factor: float
    f0_n: float | None = None
    f1_n_per_mps: float | None = None
    f2_n_per_mps2: float | None = None

    @property
    def coastdown(self) -> bool:
        return self.f0_n is not None


@dataclass(frozen=True)
class Charging:
    ac_dc_efficiency: float


@dataclass(frozen=True)
class Environment:
    air_density_kg_m3: float
    gravity_m_s2: float


@dataclass(frozen=True)
class DesignInfo:
    problem: str = ""
    cycle: str = ""
    price_usd: float | None = None
    predicted_range_km: float | None = None
    solver: str = ""
    assembly_site: str = ""
    duty_usd: float | None = None


@dataclass(frozen=True)
class Vehicle:
    name: str
    body: Body
    battery: Battery
    motor: Motor
    driveline: Driveline
    regen: Regen
    auxiliary: Auxiliary
    load: Load
    road_load: RoadLoad
    charging: Charging
    environment: Environment
    description: str = ""
    top_speed_kmh: float | None = None
    design: DesignInfo = DesignInfo()


# ---- loading ----------------------------------------------------------------------------------
def load_model_defaults(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The calibrated defaults (configs/model_defaults.toml), validated: every key must be a known
    optional key of its section."""
    path = path if path is not None else config_file("model_defaults.toml")
    raw = read_toml(path)
    out: dict[str, dict[str, Any]] = {}
    for section, table in raw.items():
        if section not in SECTIONS:
            raise ConfigError(str(path), section, "unknown section")
        optional = tuple(Field(f.name, f.kind, f.unit, f.description, default=None, min=f.min, max=f.max,
                               choices=f.choices) for f in SECTIONS[section])
        checked = validate_table(table, optional, file=path, where=section)
        out[section] = {k: v for k, v in checked.items() if k in table}
    return out


def load_vehicle(path: str | Path, defaults: dict[str, dict[str, Any]] | None = None) -> Vehicle:
    """Read and validate a vehicle or design file, by path or by bundled name (`nissan_sakura`,
    `us_kei_150km`: configs/vehicles/, then configs/designs/). Errors name the file and the dotted key."""
    path = vehicle_path(path)
    return vehicle_from_dict(read_toml(path), file=str(path), defaults=defaults)


def vehicle_path(name_or_path: str | Path) -> Path:
    """The file behind a vehicle or design given by path or by bundled name."""
    return named(("vehicles", "designs"), name_or_path, what="vehicle or design file")


def vehicle_from_dict(raw: dict, *, file: str = "<vehicle>", defaults: dict | None = None) -> Vehicle:
    if defaults is None:
        defaults = load_model_defaults()
    top = validate_table({k: v for k, v in raw.items() if not isinstance(v, dict)}, TOP_FIELDS, file=file)
    for key, value in raw.items():
        if isinstance(value, dict) and key not in SECTIONS:
            raise ConfigError(file, key, f"unknown section (known: {', '.join(SECTIONS)})")
    for section in REQUIRED_SECTIONS:
        if section not in raw:
            raise ConfigError(file, section, "missing required section")
    tables = {}
    for section, schema in SECTIONS.items():
        sub = ("cell",) if section == "battery" else ()
        tables[section] = validate_table(raw.get(section, {}), schema, file=file, where=section,
                                         defaults=defaults.get(section, {}), allow_subtables=sub)
    bat = tables["battery"]
    cell = None
    if "cell" in bat:
        cell = Cell(**validate_table(bat.pop("cell"), CELL_FIELDS, file=file, where="battery.cell"))
    battery = Battery(**bat, cell=cell)
    _check_battery(battery, file)
    motor_table = tables["motor"]
    motor_table["efficiency_power_fractions"] = tuple(motor_table["efficiency_power_fractions"])
    motor_table["efficiency_values"] = tuple(motor_table["efficiency_values"])
    motor = Motor(**motor_table)
    _check_motor_map(motor, file)
    regen = Regen(**tables["regen"])
    road_load = RoadLoad(**tables["road_load"])
    given = [k for k in ("f0_n", "f1_n_per_mps", "f2_n_per_mps2") if getattr(road_load, k) is not None]
    if given and len(given) < 3:
        missing = next(k for k in ("f0_n", "f1_n_per_mps", "f2_n_per_mps2") if getattr(road_load, k) is None)
        raise ConfigError(file, f"road_load.{missing}", "coastdown coefficients go together: give f0_n, f1_n_per_mps and f2_n_per_mps2")
    return Vehicle(
        name=top["name"], description=top["description"], top_speed_kmh=top["top_speed_kmh"],
        body=Body(**tables["body"]), battery=battery, motor=motor,
        driveline=Driveline(**tables["driveline"]), regen=regen, auxiliary=Auxiliary(**tables["auxiliary"]),
        load=Load(**tables["load"]), road_load=road_load, charging=Charging(**tables["charging"]),
        environment=Environment(**tables["environment"]),
        design=DesignInfo(**tables["design"]),
    )


def _check_battery(b: Battery, file: str) -> None:
    counts = (b.series is not None, b.parallel is not None)
    if any(counts) and not all(counts):
        raise ConfigError(file, "battery.series" if not counts[0] else "battery.parallel",
                          "series and parallel must be given together")
    if b.cell is None:
        return
    if b.cell.chemistry != b.chemistry:
        raise ConfigError(file, "battery.cell.chemistry", f"{b.cell.chemistry!r} differs from battery.chemistry {b.chemistry!r}")
    if not b.cell.min_voltage_v < b.cell.nominal_voltage_v < b.cell.max_voltage_v:
        raise ConfigError(file, "battery.cell.nominal_voltage_v", "needs min_voltage_v < nominal_voltage_v < max_voltage_v")
    if b.cell.peak_discharge_c < b.cell.max_discharge_c:
        raise ConfigError(file, "battery.cell.peak_discharge_c", f"{b.cell.peak_discharge_c} 1/h is below the continuous "
                          f"max_discharge_c {b.cell.max_discharge_c} 1/h: a cell gives at least its continuous rate for seconds")
    if b.series is None:
        return
    energy_kwh = b.series * b.parallel * b.cell.energy_wh / 1000.0
    voltage_v = b.series * b.cell.nominal_voltage_v
    if abs(energy_kwh / b.energy_kwh - 1) > CONSISTENCY_TOLERANCE:
        raise ConfigError(file, "battery.energy_kwh", f"{b.energy_kwh} kWh but series x parallel x cell gives {energy_kwh:.3f} kWh")
    if abs(voltage_v / b.nominal_voltage_v - 1) > CONSISTENCY_TOLERANCE:
        raise ConfigError(file, "battery.nominal_voltage_v", f"{b.nominal_voltage_v} V but series x cell gives {voltage_v:.1f} V")


def _check_motor_map(m: Motor, file: str) -> None:
    x, y = m.efficiency_power_fractions, m.efficiency_values
    if len(x) != len(y) or len(x) < 2:
        raise ConfigError(file, "motor.efficiency_values", "needs as many values as efficiency_power_fractions (>= 2)")
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in x + y):
        raise ConfigError(file, "motor.efficiency_values", "all map entries must be numbers")
    if any(b <= a for a, b in zip(x, x[1:])) or x[0] != 0:
        raise ConfigError(file, "motor.efficiency_power_fractions", "must start at 0 and increase")
    if any(not 0 < v <= 1 for v in y):
        raise ConfigError(file, "motor.efficiency_values", "efficiencies must be in (0, 1]")
    # The model inverts the map at the pack's limits: electrical input (out / eta) must rise with
    # output, and regenerated power (shaft x eta) with shaft power, on every segment.
    for (x0, y0), (x1, y1) in zip(zip(x, y), zip(x[1:], y[1:])):
        slope = (y1 - y0) / (x1 - x0)
        intercept = y0 - slope * x0
        if intercept <= 0 or intercept + 2 * slope * x0 <= 0 or intercept + 2 * slope * x1 <= 0:
            raise ConfigError(file, "motor.efficiency_values",
                              f"efficiency changes too steeply between fractions {x0} and {x1}: "
                              "input power must rise with output power")


# ---- writing ----------------------------------------------------------------------------------
def vehicle_to_toml(v: Vehicle, header: str = "") -> str:
    """TOML text `load_vehicle` reads back to an equal Vehicle (all keys explicit)."""
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    lines.append(f"name = {_toml_value(v.name)}")
    if v.description:
        lines.append(f"description = {_toml_value(v.description)}")
    if v.top_speed_kmh is not None:
        lines.append(f"top_speed_kmh = {_toml_value(v.top_speed_kmh)}")
    for section in SECTIONS:
        obj = getattr(v, section)
        table = {k: val for k, val in asdict(obj).items() if k != "cell" and val is not None and val != ""}
        if section == "design" and not table:
            continue
        lines.append(f"\n[{section}]")
        lines += [f"{k} = {_toml_value(val)}" for k, val in table.items()]
        if section == "battery" and v.battery.cell is not None:
            lines.append("\n[battery.cell]")
            lines += [f"{k} = {_toml_value(val)}" for k, val in asdict(v.battery.cell).items()]
    return "\n".join(lines) + "\n"


def write_vehicle(v: Vehicle, path: str | Path, header: str = "") -> None:
    Path(path).write_text(vehicle_to_toml(v, header))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def field_names(cls) -> list[str]:
    return [f.name for f in dc_fields(cls)]


# ---- coastdown coefficients -------------------------------------------------------------------
N_PER_LBF = 4.4482216152605   # exact: 1 lbf = 0.45359237 kg x 9.80665 m/s^2
MPS_PER_MPH = 0.44704         # exact: 1 mi/h = 1609.344 m / 3600 s


def coastdown_from_epa(a_lbf: float, b_lbf_per_mph: float, c_lbf_per_mph2: float) -> tuple[float, float, float]:
    """EPA target coefficients (test-car list A, B, C) as [road_load] f0_n, f1_n_per_mps, f2_n_per_mps2."""
    return (a_lbf * N_PER_LBF, b_lbf_per_mph * N_PER_LBF / MPS_PER_MPH, c_lbf_per_mph2 * N_PER_LBF / MPS_PER_MPH**2)


def epa_from_coastdown(f0_n: float, f1_n_per_mps: float, f2_n_per_mps2: float) -> tuple[float, float, float]:
    """The inverse of coastdown_from_epa: (A lbf, B lbf/(mi/h), C lbf/(mi/h)^2)."""
    return (f0_n / N_PER_LBF, f1_n_per_mps * MPS_PER_MPH / N_PER_LBF, f2_n_per_mps2 * MPS_PER_MPH**2 / N_PER_LBF)
