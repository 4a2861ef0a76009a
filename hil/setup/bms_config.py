"""`configs/bms.toml`: the emulated BMS's defaults and the OCV tables per chemistry, validated.

Errors name the file and the dotted key (ConfigError), like every other config of kei.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kei.errors import ConfigError
from kei.resources import config_file
from kei.units import MV_PER_V


def bms_config_file() -> Path:
    """configs/bms.toml: the lab's (--configs) or the bundled one."""
    return config_file("bms.toml")
from kei.hil.wire.protocol import OCV_POINTS
from kei.schema import Field, read_toml, validate_sections, validate_table

SOC_STEP = 1.0 / (OCV_POINTS - 1)

BMS_FIELDS = (
    Field("capacity_spread", float, "-", "weakest group's capacity shortfall", min=0.0, max=0.49),
    Field("overcurrent_factor", float, "-", "over-current fault above this multiple of max_discharge_a (the pack's "
          "peak current)", min=1.0),
    Field("debounce_voltage_s", float, "s", "UV / OV debounce", min=0.0),
    Field("debounce_current_s", float, "s", "over-current debounce", min=0.0),
    Field("debounce_temp_s", float, "s", "over-temperature debounce", min=0.0),
    Field("rest_current_c", float, "1/h", "rest below this C-rate of the pack", min=0.0),
    Field("rest_time_s", float, "s", "rest needed before an OCV correction", min=0.0),
    Field("ocv_gain", float, "-", "share of the OCV-vs-estimate difference applied", min=0.0, max=1.0),
    Field("ocv_min_slope_v", float, "V per unit SOC", "correct only where dOCV/dSOC >= this", min=0.0),
    Field("current_sensor_gain", float, "-", "coulomb counter sees I x gain", min=0.5, max=1.5),
)
THERMAL_FIELDS = (
    Field("ambient_c", float, "C", "ambient temperature", min=-60.0, max=80.0),
    Field("specific_heat_j_per_kg_k", float, "J/(kg K)", "cell specific heat", min=1.0),
    Field("cooling_w_per_k_per_kg", float, "W/(K kg)", "pack-to-ambient conductance per kg of cells", min=1e-6),
)
CELL_MODEL_FIELDS = (
    Field("r0_share_of_dcir", float, "-", "ohmic share of the cell DC resistance", min=0.0, max=1.0),
    Field("r1_share_of_dcir", float, "-", "RC-branch share of the cell DC resistance", min=0.0, max=1.0),
    Field("tau1_s", float, "s", "RC time constant", min=1e-3),
)
START_FIELDS = (Field("soc", float, "-", "state of charge a fresh run starts at", min=0.0, max=1.0),)
CHEMISTRY_FIELDS = (
    Field("uv_margin_v", float, "V", "under-voltage fault threshold above the cell's min_voltage_v", min=-1.0, max=1.0),
    Field("ov_margin_v", float, "V", "over-voltage fault threshold above the cell's max_voltage_v", min=-1.0, max=1.0),
    Field("derate_window_v", float, "V", "derating width inside the voltage limits", min=1e-3, max=2.0),
    Field("temp_derate_c", float, "C", "temperature where derating starts", min=-60.0, max=150.0),
    Field("temp_max_c", float, "C", "over-temperature fault; derating reaches zero", min=-60.0, max=150.0),
    Field("specific_energy_wh_per_kg", float, "Wh/kg", "cell specific energy, for cells without a mass", min=1.0),
    Field("ocv_knots_soc", list, "-", "SOC of the knots the table was interpolated from"),
    Field("ocv_knots_v", list, "V", "OCV at those knots"),
    Field("ocv_v", list, "V", f"OCV at SOC 0, 5, ..., 100 % ({OCV_POINTS} points)"),
)
GENERIC_CELL_FIELDS = (
    Field("min_voltage_v", float, "V", "discharge cut-off voltage", min=0.5, max=6.0),
    Field("max_voltage_v", float, "V", "charge cut-off voltage", min=0.5, max=6.0),
    Field("max_discharge_c", float, "1/h", "continuous discharge rate", min=0.01),
    Field("peak_discharge_c", float, "1/h", "pulse (10 s) discharge rate: the BMS's per-step limit", min=0.01),
    Field("max_charge_c", float, "1/h", "continuous charge rate", min=0.01),
)
SECTIONS = {"bms": BMS_FIELDS, "thermal": THERMAL_FIELDS, "cell_model": CELL_MODEL_FIELDS, "start": START_FIELDS}


@dataclass(frozen=True)
class GenericCell:
    min_voltage_v: float
    max_voltage_v: float
    max_discharge_c: float
    peak_discharge_c: float
    max_charge_c: float


@dataclass(frozen=True)
class ChemistryConfig:
    name: str
    uv_margin_v: float
    ov_margin_v: float
    derate_window_v: float
    temp_derate_c: float
    temp_max_c: float
    specific_energy_wh_per_kg: float
    ocv_knots_soc: tuple[float, ...]
    ocv_knots_v: tuple[float, ...]
    ocv_v: tuple[float, ...]
    generic_cell: GenericCell

    @property
    def ocv_mv(self) -> tuple[int, ...]:
        return tuple(round(v * MV_PER_V) for v in self.ocv_v)

    @property
    def mean_ocv_v(self) -> float:
        """SOC-average of the (linearly interpolated) table: energy per Ah over SOC 0..1."""
        v = self.ocv_v
        return SOC_STEP * (sum(v) - 0.5 * (v[0] + v[-1]))


@dataclass(frozen=True)
class BmsConfig:
    file: str
    bms: dict[str, float]
    thermal: dict[str, float]
    cell_model: dict[str, float]
    start: dict[str, float]
    chemistries: dict[str, ChemistryConfig]

    def chemistry(self, name: str) -> ChemistryConfig:
        try:
            return self.chemistries[name]
        except KeyError:
            raise ConfigError(self.file, f"chemistry.{name}", "no OCV table and limits for this chemistry "
                              f"(have: {', '.join(self.chemistries)}); add a [chemistry.{name}] table") from None


def load_bms_config(path: str | Path | None = None) -> BmsConfig:
    path = Path(path) if path is not None else bms_config_file()
    return bms_config_from_dict(read_toml(path), file=str(path))


def bms_config_from_dict(raw: dict[str, Any], *, file: str = "<bms config>") -> BmsConfig:
    tables = validate_sections(raw, SECTIONS, file=file, extra=("chemistry",))
    cm = tables["cell_model"]
    if abs(cm["r0_share_of_dcir"] + cm["r1_share_of_dcir"] - 1.0) > 1e-9:
        raise ConfigError(file, "cell_model.r1_share_of_dcir", "r0_share_of_dcir + r1_share_of_dcir must be 1")
    chem_tables = raw.get("chemistry")
    if not isinstance(chem_tables, dict) or not chem_tables:
        raise ConfigError(file, "chemistry", "needs at least one [chemistry.NAME] table")
    chemistries = {name: _chemistry(name, table, file) for name, table in chem_tables.items()}
    return BmsConfig(file=file, chemistries=chemistries, **tables)


def _chemistry(name: str, table: Any, file: str) -> ChemistryConfig:
    where = f"chemistry.{name}"
    t = validate_table(table, CHEMISTRY_FIELDS, file=file, where=where, allow_subtables=("generic_cell",))
    if "generic_cell" not in t:
        raise ConfigError(file, f"{where}.generic_cell", "missing required table")
    cell = GenericCell(**validate_table(t.pop("generic_cell"), GENERIC_CELL_FIELDS, file=file, where=f"{where}.generic_cell"))
    if t["temp_derate_c"] >= t["temp_max_c"]:
        raise ConfigError(file, f"{where}.temp_derate_c", "must be below temp_max_c")
    if cell.min_voltage_v >= cell.max_voltage_v:
        raise ConfigError(file, f"{where}.generic_cell.min_voltage_v", "must be below max_voltage_v")
    if cell.peak_discharge_c < cell.max_discharge_c:
        raise ConfigError(file, f"{where}.generic_cell.peak_discharge_c", "must not be below max_discharge_c")
    ocv = _increasing_numbers(t["ocv_v"], file, f"{where}.ocv_v")
    if len(ocv) != OCV_POINTS:
        raise ConfigError(file, f"{where}.ocv_v", f"needs {OCV_POINTS} voltages (SOC 0, 5, ..., 100 %), got {len(ocv)}")
    mv = [round(v * MV_PER_V) for v in ocv]
    if any(b <= a for a, b in zip(mv, mv[1:])) or not (0 < mv[0] and mv[-1] <= 0xFFFF):
        raise ConfigError(file, f"{where}.ocv_v", "must stay strictly increasing in whole mV, within 0.001-65.535 V")
    knots_soc = _increasing_numbers(t["ocv_knots_soc"], file, f"{where}.ocv_knots_soc")
    knots_v = _increasing_numbers(t["ocv_knots_v"], file, f"{where}.ocv_knots_v")
    if len(knots_soc) != len(knots_v) or len(knots_soc) < 2 or knots_soc[0] != 0.0 or knots_soc[-1] != 1.0:
        raise ConfigError(file, f"{where}.ocv_knots_soc", "needs one SOC per knot voltage, from 0 to 1")
    return ChemistryConfig(name=name, ocv_knots_soc=knots_soc, ocv_knots_v=knots_v, ocv_v=ocv, generic_cell=cell,
                           **{k: v for k, v in t.items() if k not in ("ocv_knots_soc", "ocv_knots_v", "ocv_v")})


def _increasing_numbers(values: list, file: str, key: str) -> tuple[float, ...]:
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise ConfigError(file, key, "all entries must be numbers")
    out = tuple(float(v) for v in values)
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ConfigError(file, key, "must be strictly increasing")
    return out
