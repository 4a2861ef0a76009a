"""The energy model on cars it was never fitted on: EPA's BEV test cars (configs/holdout/).

Each row of configs/holdout/epa_bev_test_cars.csv is one EPA test car: its coastdown, test weight,
rated power and unadjusted city (UDDS) and highway (HWFET) MPGe. `vehicle_from_record` makes it a
vehicle (what the record does not give: configs/holdout/epa_rules.toml [vehicle], then the generic
defaults), `evaluate` runs the two EPA procedures on it and `summarize` gives the errors, the split
error and how often the model's 90 % band holds the measured figure. `residual_for_coverage` finds
the band's calibration residual at which it holds a given share (configs/uncertainty.toml takes the
one for 90 %). bench/holdout.py prints it all.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace

import numpy as np

from kei.errors import ConfigError
from kei.resources import config_file
from kei.schema import read_toml
from kei.textfile import read_text
from kei.units import KG_PER_LB, W_PER_HP, W_PER_KW
from kei.vehicle.calibrate import CalibrationCar, Figure, mpge
from kei.vehicle.cycles import load_cycle
from kei.vehicle.energy import simulate
from kei.vehicle.files import Vehicle, coastdown_from_epa, vehicle_from_dict
from kei.vehicle.procedures import rules as procedure_rules
from kei.vehicle.uncertainty import BandDraws, InputUncertainty, Uncertainty, band_draws

# column -> type; every column must be present and parse
COLUMNS = {
    "test_vehicle_id": str, "configuration": int, "make": str, "model": str, "model_years": str, "drive": str,
    "etw_lb": float, "rated_power_hp": float, "nv_rpm_per_mph": float, "target_a_lbf": float,
    "target_b_lbf_per_mph": float, "target_c_lbf_per_mph2": float, "udds_mpge_unadjusted": float,
    "hwfet_mpge_unadjusted": float, "unit_as_listed": str, "udds_tests": int, "hwfet_tests": int,
    "same_model_as_calibration": bool,
}
PROCEDURES = {"udds": "epa_city", "hwfet": "epa_highway"}
# What a record's two figures can fit: not the usable share (no range figure) nor the blended share
# (every record runs with the default braking kind, cooperative).
FITTABLE = (("auxiliary", "power_w"), ("regen", "cooperative_fraction"), ("motor", "low_load_efficiency"))


def _parse(kind: type, text: str):
    if kind is bool:
        if text not in ("True", "False"):
            raise ValueError(f"{text!r} is not True or False")
        return text == "True"
    value = kind(text)
    if kind is float and not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def load_records(path=None) -> list[dict]:
    """The hold-out CSV, every cell typed; an error names the file, the line and the column."""
    path = str(path if path is not None else config_file("holdout/epa_bev_test_cars.csv"))
    lines = read_text(path).splitlines()
    body = [(n, line) for n, line in enumerate(lines, start=1) if line and not line.startswith("#")]
    if not body:
        raise ConfigError(path, None, "no header row")
    reader = csv.reader([line for _, line in body])
    header = next(reader)
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ConfigError(path, f"line {body[0][0]}", f"missing column(s) {', '.join(missing)}")
    records = []
    for (n, _), cells in zip(body[1:], reader):
        if len(cells) != len(header):
            raise ConfigError(path, f"line {n}", f"{len(cells)} cells, the header has {len(header)}")
        rec = {}
        for name, text in zip(header, cells):
            if name in COLUMNS:
                try:
                    rec[name] = _parse(COLUMNS[name], text)
                except ValueError as err:
                    raise ConfigError(path, f"line {n}, column {name}", str(err)) from None
        records.append(rec)
    return records


def load_rules(path=None) -> dict:
    return read_toml(path if path is not None else config_file("holdout/epa_rules.toml"))


def record_name(rec: dict) -> str:
    return f"{rec['make']} {rec['model']} ({rec['model_years']}, {rec['test_vehicle_id']}#{rec['configuration']})"


def rated_power_kw(rec: dict) -> float:
    return rec["rated_power_hp"] * W_PER_HP / W_PER_KW


def record_vehicle_dict(rec: dict, rules: dict) -> dict:
    """The record as a vehicle file's tables, tested at its own ETW: curb = ETW - the EPA load, that
    load as payload."""
    conv = rules["vehicle"]
    load_kg = procedure_rules()["epa"]["added_lb"] * KG_PER_LB
    f0, f1, f2 = coastdown_from_epa(rec["target_a_lbf"], rec["target_b_lbf_per_mph"], rec["target_c_lbf_per_mph2"])
    return {
        "name": record_name(rec),
        "body": {"curb_mass_kg": rec["etw_lb"] * KG_PER_LB - load_kg,
                 **{k.removeprefix("body_"): conv[k] for k in conv if k.startswith("body_")}},
        "battery": {"energy_kwh": conv["battery_energy_kwh"], "nominal_voltage_v": conv["battery_nominal_voltage_v"],
                    "chemistry": conv["battery_chemistry"]},
        "motor": {"peak_power_kw": rated_power_kw(rec)},
        "load": {"payload_kg": load_kg},
        "road_load": {"f0_n": f0, "f1_n_per_mps": f1, "f2_n_per_mps2": f2},
    }


def vehicle_from_record(rec: dict, rules: dict, defaults: dict) -> Vehicle:
    raw = record_vehicle_dict(rec, rules)
    return vehicle_from_dict(raw, file=raw["name"], defaults=defaults)


def as_calibration_cars(records: list[dict], rules: dict) -> list[CalibrationCar]:
    """The records as calibration cars (label figures = unadjusted x the EPA label factor), for
    kei.vehicle.calibrate.fit_defaults with keys=FITTABLE."""
    factor = {c: load_cycle(p).range_factor for c, p in PROCEDURES.items()}
    cars = []
    for rec in records:
        raw = record_vehicle_dict(rec, rules)
        figures = tuple(Figure(raw["name"], f"{p}_mpge", rec[f"{c}_mpge_unadjusted"] * factor[c], p)
                        for c, p in PROCEDURES.items())
        cars.append(CalibrationCar(raw["name"], raw, figures, "EPA Test Car List record (configs/holdout/)"))
    return cars


@dataclass(frozen=True)
class HoldoutRow:
    record: dict
    results: dict                # cycle -> SimResult ({} when not run)
    not_run: str = ""            # why the record is not a valid test of the model ("" when it is)

    @property
    def valid(self) -> bool:
        return not self.not_run

    @property
    def model(self) -> dict:
        """cycle -> unadjusted MPGe: the AC energy before the label factor, as the test car list gives it."""
        return {c: mpge(r.ac_energy_wh_per_km) for c, r in self.results.items()}

    @property
    def band(self) -> dict:
        """cycle -> the 90 % band (p05, p95) in MPGe, with the configured uncertainty."""
        return {c: _mpge_band(r.band) for c, r in self.results.items()}

    def error(self, cycle: str) -> float:
        return self.model[cycle] / self.record[f"{cycle}_mpge_unadjusted"] - 1.0

    @property
    def split_error(self) -> float:
        """Model over record HWFET/UDDS energy-per-km ratio, minus 1 (as docs/validation.md)."""
        rec = self.record["udds_mpge_unadjusted"] / self.record["hwfet_mpge_unadjusted"]
        return (self.model["udds"] / self.model["hwfet"]) / rec - 1.0

    def in_band(self, cycle: str) -> bool:
        lo, hi = self.band[cycle]
        return lo <= self.record[f"{cycle}_mpge_unadjusted"] <= hi


def evaluate(records: list[dict], rules: dict, defaults: dict, progress=None) -> list[HoldoutRow]:
    cycles = {c: load_cycle(p) for c, p in PROCEDURES.items()}
    rows = []
    for rec in records:
        try:
            v = vehicle_from_record(rec, rules, defaults)
        except ConfigError as err:  # a record outside the vehicle file's declared ranges (a 1,371 kW hypercar)
            why = f"outside the vehicle file's ranges: {err.key}: {err.message}"
            rows.append(HoldoutRow(rec, {}, why))
        else:
            rows.append(_run(rec, v, cycles))
        if progress is not None:
            progress()
    return rows


def _run(rec: dict, v: Vehicle, cycles: dict) -> HoldoutRow:
    results = {c: simulate(v, cycle) for c, cycle in cycles.items()}
    invalid = [PROCEDURES[c] for c, r in results.items() if not r.valid_test]
    not_run = f"not a valid {invalid[0]} test (the car does not follow the trace)" if invalid else ""
    return HoldoutRow(rec, results, not_run)


def _mpge_band(band: dict) -> tuple[float, float]:
    # more energy per km is fewer MPGe: the band's ends swap
    return mpge(band["ac_energy_wh_per_km_p95"]), mpge(band["ac_energy_wh_per_km_p05"])


def band_coverage(rows: list[HoldoutRow], u: Uncertainty) -> float:
    """The share of the valid rows' measured figures, city and highway pooled, inside the model's
    90 % band drawn with the uncertainty `u`."""
    return _coverage(_drawn_figures(rows, u), u.inputs["calibration_residual"])


def residual_for_coverage(rows: list[HoldoutRow], u: Uncertainty, target: float, *, most: float = 0.5,
                          resolution: float = 0.0025) -> float:
    """The smallest calibration residual (the half-width of its 90 % interval, to `resolution`) at
    which the band holds `target` of the rows' figures: a bisection, since a wider residual never
    narrows the band. `most` when even that residual does not reach `target`. The batch runs are made
    once; each step only takes the bands again at its residual."""
    figures, residual = _drawn_figures(rows, u), u.inputs["calibration_residual"]

    def holds(half_width: float) -> bool:
        return _coverage(figures, replace(residual, half_width_90=half_width)) >= target

    lo, hi = 0.0, most
    if holds(lo):
        return lo
    if not holds(hi):
        return most
    while hi - lo > resolution:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if holds(mid) else (mid, hi)
    return hi


def _drawn_figures(rows: list[HoldoutRow], u: Uncertainty) -> list[tuple[float, BandDraws]]:
    """(measured MPGe, the batch run of the model's band) for each figure of the valid rows."""
    return [(r.record[f"{c}_mpge_unadjusted"], band_draws(result, u))
            for r in rows if r.valid for c, result in r.results.items()]


def _coverage(figures: list[tuple[float, BandDraws]], residual: InputUncertainty) -> float:
    hits = [lo <= measured <= hi for measured, drawn in figures for lo, hi in [_mpge_band(drawn.band(residual))]]
    return float(np.mean(hits)) if hits else math.nan


def summarize(rows: list[HoldoutRow], *, error_within: float, split_within: float) -> dict:
    """Over the valid rows, per cycle: the error's median and quartiles, the share within
    `error_within` and the band's coverage; the split error's median, mean and share within
    `split_within`."""
    ok = [r for r in rows if r.valid]
    out = {"n": len(ok), "invalid": len(rows) - len(ok)}
    if not ok:
        return out
    for c in PROCEDURES:
        e = np.array([r.error(c) for r in ok])
        out[c] = {"median": float(np.median(e)), "p25": float(np.percentile(e, 25)), "p75": float(np.percentile(e, 75)),
                  "within": float(np.mean(np.abs(e) <= error_within)),
                  "band_coverage": float(np.mean([r.in_band(c) for r in ok]))}
    s = np.array([r.split_error for r in ok])
    out["split"] = {"median": float(np.median(s)), "mean": float(s.mean()),
                    "within": float(np.mean(np.abs(s) <= split_within))}
    return out
