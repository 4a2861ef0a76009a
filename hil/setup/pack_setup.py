"""A vehicle or design file + configs/bms.toml -> the OCV_TABLE and CONFIGURE messages of a bench run.

Pure: no files are read here (the caller loads the vehicle and the BMS config). The pack is the
design's `series x parallel` of its `[battery.cell]`. A vehicle file without a cell gets a *generic
cell* of its chemistry (bms.toml `[chemistry.X.generic_cell]`), sized to the stated pack:
  nominal voltage = the OCV table's SOC-average (so the emulated pack holds the stated energy),
  series = round(pack nominal voltage / cell nominal) (or battery.series), parallel = 1 (or battery.parallel),
  capacity = pack energy / (series x parallel x cell nominal),
  DC resistance = the pack resistance the energy model uses (battery.loss_fraction_at_1c) x parallel / series,
  mass = cell energy / the chemistry's specific energy.
Currents are pack currents in A, positive on discharge. CONFIGURE's max_discharge_a is the pack's
peak (pulse) current: the most the BMS allows for any one step (docs/emulator.md).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kei.errors import ConfigError
from kei.hil.setup.bms_config import BmsConfig, ChemistryConfig
from kei.hil.wire.protocol import Chemistry, Configure, OcvTable, Telemetry, configure_errors, decode
from kei.vehicle.files import Cell, Vehicle

MOHM_PER_OHM = 1000.0
WH_PER_KWH = 1000.0
SERIES_LIMIT_U16 = 65535  # CONFIGURE's series is a u16; a device's own limit is in its HELLO_ACK


@dataclass(frozen=True)
class PackSetup:
    """What a bench run sends before its first step, plus what it was derived from (for logs)."""

    series: int
    parallel: int
    cell: Cell
    generic_cell: bool
    ocv_table: OcvTable
    configure: Configure
    notes: tuple[str, ...]

    @property
    def messages(self) -> tuple[OcvTable, Configure]:
        """In sending order: the table first, so the device is configured once CONFIGURE is ACKed."""
        return self.ocv_table, self.configure


def generic_cell(vehicle: Vehicle, chem: ChemistryConfig) -> tuple[Cell, int, int]:
    """The documented stand-in cell (and series, parallel) for a vehicle file without [battery.cell]."""
    b = vehicle.battery
    nominal_v = chem.mean_ocv_v
    series = b.series or max(1, round(b.nominal_voltage_v / nominal_v))
    parallel = b.parallel or 1
    capacity_ah = b.energy_kwh * WH_PER_KWH / (series * parallel * nominal_v)
    dcir_mohm = b.resistance_ohm * parallel / series * MOHM_PER_OHM
    g = chem.generic_cell
    cell = Cell(id=f"generic_{chem.name}", chemistry=chem.name, capacity_ah=capacity_ah, nominal_voltage_v=nominal_v,
                min_voltage_v=g.min_voltage_v, max_voltage_v=g.max_voltage_v, internal_resistance_mohm=dcir_mohm,
                max_discharge_c=g.max_discharge_c, peak_discharge_c=g.peak_discharge_c, max_charge_c=g.max_charge_c,
                mass_kg=capacity_ah * nominal_v / chem.specific_energy_wh_per_kg)
    return cell, series, parallel


def pack_setup(vehicle: Vehicle, bms: BmsConfig, *, vehicle_file: str = "<vehicle>", seq: int = 0) -> PackSetup:
    """The messages for a fresh run (the pack at bms.toml `[start] soc`, ambient temperature, last_seq 0).

    Raises ConfigError naming the vehicle file or bms.toml when the two do not make a valid pack.
    """
    b = vehicle.battery
    chem = bms.chemistry(b.chemistry)
    notes = []
    if b.cell is None:
        cell, series, parallel = generic_cell(vehicle, chem)
        notes.append(f"no [battery.cell]: generic {chem.name} cell {cell.capacity_ah:.2f} Ah, {cell.nominal_voltage_v:.3f} V "
                     f"(mean OCV), {cell.internal_resistance_mohm:.3f} mOhm (from battery.loss_fraction_at_1c)")
    else:
        cell = b.cell
        series = b.series or max(1, round(b.nominal_voltage_v / cell.nominal_voltage_v))
        parallel = b.parallel or max(1, round(b.energy_kwh * WH_PER_KWH / (series * cell.energy_wh)))
        if b.series is None:
            notes.append(f"battery.series/parallel not set: {series} s x {parallel} p from the stated energy and voltage")
    mismatch = chem.mean_ocv_v / cell.nominal_voltage_v - 1.0
    if abs(mismatch) > 0.02:
        notes.append(f"the {chem.name} OCV table's mean {chem.mean_ocv_v:.3f} V differs from the cell's nominal "
                     f"{cell.nominal_voltage_v:.3f} V by {100 * mismatch:+.1f} %: the emulated pack holds about that much "
                     "more energy than the file states (less if negative)")
    uv_v = cell.min_voltage_v + chem.uv_margin_v
    ov_v = cell.max_voltage_v + chem.ov_margin_v
    if uv_v >= ov_v:
        raise ConfigError(vehicle_file, "battery.cell.min_voltage_v", f"under-voltage limit {uv_v:.3f} V is not below "
                          f"the over-voltage limit {ov_v:.3f} V ({bms.file} chemistry.{chem.name} margins)")
    cells = series * parallel
    mass_kg = (cell.mass_kg or cell.energy_wh / chem.specific_energy_wh_per_kg) * cells
    th, cm, knobs, soc = bms.thermal, bms.cell_model, bms.bms, bms.start["soc"]
    dcir_ohm = cell.internal_resistance_mohm / MOHM_PER_OHM
    code = Chemistry.from_name(chem.name)
    configure = Configure(
        seq=seq, series=series, parallel=parallel, chemistry=code, flags=0,
        capacity_ah=cell.capacity_ah,
        r0_ohm=dcir_ohm * cm["r0_share_of_dcir"], r1_ohm=dcir_ohm * cm["r1_share_of_dcir"], tau1_s=cm["tau1_s"],
        capacity_spread=knobs["capacity_spread"] if series > 1 else 0.0,  # one group has no weaker sibling
        cell_uv_v=uv_v, cell_ov_v=ov_v, derate_window_v=chem.derate_window_v,
        # The BMS's state of power for the next step: a step is ~1 s, inside the cell's pulse rating
        # (the energy model's per-step limit too); the over-current fault sits overcurrent_factor above.
        max_discharge_a=cell.capacity_ah * cell.peak_discharge_c * parallel,
        max_charge_a=cell.capacity_ah * cell.max_charge_c * parallel,
        overcurrent_factor=knobs["overcurrent_factor"],
        temp_derate_c=chem.temp_derate_c, temp_max_c=chem.temp_max_c,
        heat_capacity_j_per_k=th["specific_heat_j_per_kg_k"] * mass_kg,
        thermal_resistance_k_per_w=1.0 / (th["cooling_w_per_k_per_kg"] * mass_kg),
        ambient_c=th["ambient_c"],
        debounce_voltage_s=knobs["debounce_voltage_s"], debounce_current_s=knobs["debounce_current_s"],
        debounce_temp_s=knobs["debounce_temp_s"],
        rest_current_a=knobs["rest_current_c"] * cell.capacity_ah * parallel, rest_time_s=knobs["rest_time_s"],
        ocv_gain=knobs["ocv_gain"], ocv_min_slope_v=knobs["ocv_min_slope_v"],
        current_sensor_gain=knobs["current_sensor_gain"],
        soc_true=soc, soc_estimate=soc, temperature_c=th["ambient_c"], energy_out_wh=0.0,
        last_seq=0, step_count=0, soc_weak_true=soc,
    )
    # the table every device applies, to the binary32 values it receives
    refused = configure_errors(decode(configure.encode()), SERIES_LIMIT_U16)
    if refused:
        raise ConfigError(vehicle_file, None, f"with {bms.file}, the pack gives a CONFIGURE no device accepts: "
                          + "; ".join(refused))
    table = OcvTable(seq=seq, chemistry=code, ocv_mv=chem.ocv_mv)
    return PackSetup(series=series, parallel=parallel, cell=cell, generic_cell=b.cell is None, ocv_table=table,
                     configure=configure, notes=tuple(notes))


def restore_configure(configure: Configure, telemetry: Telemetry, *, seq: int | None = None) -> Configure:
    """CONFIGURE that puts a device that lost its state (reset, power cycle) where `telemetry` left it.

    RC voltages and debounce timers restart from zero (bms_model.md: CONFIGURE zeroes them); every
    quantity the telemetry carries is restored, and `last_seq` = the telemetry's step, so the host
    continues with the next step. SOCs are clamped to [0, 1], the range CONFIGURE accepts (an estimate
    may have drifted a little outside it).
    """
    def unit(x: float) -> float:
        return min(1.0, max(0.0, x))

    return dataclasses.replace(
        configure, seq=configure.seq if seq is None else seq, soc_true=unit(telemetry.soc_true),
        soc_weak_true=unit(telemetry.soc_weak_true), soc_estimate=unit(telemetry.soc_estimate),
        temperature_c=telemetry.temperature_c, energy_out_wh=telemetry.energy_out_wh,
        last_seq=telemetry.seq, step_count=telemetry.step_count)
