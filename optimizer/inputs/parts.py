"""The parts a design is built from, as the catalogs describe them (`configs/catalog/`).

Plain frozen dataclasses, no I/O: `catalog.py` loads and validates the TOML files into these, the
MILP builders read them, and tests build small random catalogs from them directly. Costs are what
the car maker pays per part before tariffs and markups; `origin` is a region code that the problem's
price model maps to a tariff rate.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kei.optimizer.inputs.content import Content
from kei.vehicle.files import Cell


@dataclass(frozen=True)
class CellSpec:
    """One battery cell type."""

    id: str
    name: str
    chemistry: str                  # lfp, nmc, sodium_ion, ... (vehicle.CHEMISTRIES)
    format: str                     # prismatic, pouch, blade, cylindrical
    capacity_ah: float
    nominal_voltage_v: float
    min_voltage_v: float
    max_voltage_v: float
    mass_kg: float
    volume_l: float
    max_discharge_c: float          # continuous, 1/h
    max_charge_c: float             # continuous, 1/h (limits regeneration)
    internal_resistance_mohm: float  # DC, 50 % SOC, 25 C
    cost_usd_per_kwh: float         # cell level, before tariffs
    origin: str
    peak_discharge_c: float         # short-term (datasheet pulse, 10 s unless stated), 1/h; >= max_discharge_c
    diameter_mm: float | None = None  # cylindrical cans: outline, checked against volume_l at load
    height_mm: float | None = None

    @property
    def energy_wh(self) -> float:
        return self.capacity_ah * self.nominal_voltage_v

    @property
    def cost_usd(self) -> float:
        return self.cost_usd_per_kwh * self.energy_wh / 1000.0

    def as_vehicle_cell(self) -> Cell:
        """The cell as a design file records it (what the energy model and the bench need)."""
        return Cell(id=self.id, chemistry=self.chemistry, capacity_ah=self.capacity_ah,
                    nominal_voltage_v=self.nominal_voltage_v, min_voltage_v=self.min_voltage_v,
                    max_voltage_v=self.max_voltage_v, internal_resistance_mohm=self.internal_resistance_mohm,
                    max_discharge_c=self.max_discharge_c, peak_discharge_c=self.peak_discharge_c,
                    max_charge_c=self.max_charge_c, mass_kg=self.mass_kg)


@dataclass(frozen=True)
class MotorSpec:
    """One traction motor with its inverter and single-reduction gear (a drive unit)."""

    id: str
    name: str
    peak_power_kw: float
    continuous_power_kw: float
    peak_torque_nm: float
    max_speed_rpm: float
    peak_efficiency: float          # motor + inverter; scales the generic efficiency map
    efficiency_class: str           # free text, e.g. "PMSM, SiC inverter"
    min_voltage_v: float            # DC input window
    max_voltage_v: float
    mass_kg: float
    cost_usd: float
    origin: str
    gear_ratio: float | None = None  # None: the generic default


@dataclass(frozen=True)
class BodySpec:
    """One body/glider: structure, interior, chassis, tyres; no battery, no drive unit."""

    id: str
    name: str
    material: str                   # mild_steel, high_strength_steel, aluminium_intensive, ...
    length_m: float
    width_m: float
    height_m: float
    glider_mass_kg: float
    drag_coefficient: float
    frontal_area_m2: float
    rolling_resistance_coefficient: float
    battery_volume_l: float         # space for the pack (cell volume / cell_to_pack_volume_ratio)
    lightweighting_max_kg: float    # mass that can be bought out of this glider
    us_crash_compliant: bool        # structure meant for FMVSS frontal/side/roof tests
    cost_usd: float
    origin: str

    @property
    def drag_area_m2(self) -> float:
        return self.drag_coefficient * self.frontal_area_m2


@dataclass(frozen=True)
class PackIntegration:
    """From cells to a pack: what the housing, BMS, cooling and wiring add."""

    cost_usd_per_kwh: float          # pack cost over cell cost
    cell_to_pack_mass_ratio: float   # cell mass / pack mass
    cell_to_pack_volume_ratio: float  # cell volume / pack volume
    min_series: int
    max_series: int
    min_parallel: int
    max_parallel: int | None = None  # None: per cell, derived from volume (inputs/pack_layout.py); set: a cap on that


@dataclass(frozen=True)
class LightweightingSegment:
    """Mass bought out at a marginal cost: the piecewise-linear cost curve is a list of these with
    rising `cost_usd_per_kg` (convex)."""

    up_to_kg: float                 # cumulative mass reduction where this segment ends
    cost_usd_per_kg: float


@dataclass(frozen=True)
class Catalog:
    cells: tuple[CellSpec, ...]
    motors: tuple[MotorSpec, ...]
    bodies: tuple[BodySpec, ...]
    pack: PackIntegration
    lightweighting: tuple[LightweightingSegment, ...] = field(default=())
    source: str = ""                # where it was loaded from, for messages
    content: Content = field(default=Content())  # required lines and options (content.toml; none if absent)

    def cell(self, cell_id: str) -> CellSpec:
        return _by_id(self.cells, cell_id, "cell")

    def motor(self, motor_id: str) -> MotorSpec:
        return _by_id(self.motors, motor_id, "motor")

    def body(self, body_id: str) -> BodySpec:
        return _by_id(self.bodies, body_id, "body")


def _by_id(parts, part_id: str, kind: str):
    for part in parts:
        if part.id == part_id:
            return part
    raise KeyError(f"no {kind} {part_id!r} in the catalog")
