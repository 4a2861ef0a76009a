"""What the energy model predicts for a car that drives a cycle back to back until its pack is
empty: the one model run the bench needs, from which it takes its per-step demand, the predicted
range it compares the measurement with, and the report's predicted curves.

    prediction = predict(vehicle, cycle)
    prediction.terminal_w          # per step of one repetition of the flattened trace, discharge > 0
    prediction.figures()           # predicted_range_km, energy_wh_per_km, ... (the bench's log header)
    prediction.series(3000.0)      # time, speed, current, voltage, SOC over 3000 s, the cycle repeated

`predicted_range_km` is the unadjusted drive-to-empty range of the flattened trace (for a plain
cycle this is `simulate(...).range_km`); a composite cycle's label range is given beside it. The
per-step arrays are those of the DRIVEN trace (the car drives what it can: energy_model.md), and
`figures()` says whether the run is a valid test of its procedure (`valid_test`, `validity_reason`)
and gives the 90 % band of the predicted range (`range_km_p05`, `range_km_p95`) and energy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kei.units import KMH_PER_MPS
from kei.vehicle.cycles import Cycle
from kei.vehicle.energy import SimResult, VehicleParams, params_from_vehicle, simulate
from kei.vehicle.files import Vehicle


@dataclass(frozen=True, eq=False)
class Prediction:
    """One vehicle on one cycle, per step of the flattened trace (step i runs from sample i to i+1)."""

    vehicle: Vehicle
    cycle: Cycle
    params: VehicleParams
    sim: SimResult

    # ---- per step, one repetition -------------------------------------------------------------
    @property
    def steps(self) -> int:
        return len(self.sim.dt_s)

    @property
    def dt_s(self) -> np.ndarray:
        return self.sim.dt_s

    @property
    def speed_start_mps(self) -> np.ndarray:
        return np.concatenate([[self.sim.speed_start_mps], self.sim.speed_mps[:-1]])

    @property
    def speed_end_mps(self) -> np.ndarray:
        return self.sim.speed_mps

    @property
    def grade_start_percent(self) -> np.ndarray:
        return self.sim.grade_percent[:-1]

    @property
    def grade_end_percent(self) -> np.ndarray:
        return self.sim.grade_percent[1:]

    @property
    def terminal_w(self) -> np.ndarray:
        return self.sim.battery_power_w

    @property
    def distance_m(self) -> np.ndarray:
        return self.sim.distance_m

    # ---- figures ------------------------------------------------------------------------------
    @property
    def predicted_range_km(self) -> float:
        return self.sim.trace_range_km

    def figures(self) -> dict:
        """The prediction as plain numbers (JSON-safe: a car that drives nowhere has no Wh/km)."""
        sim = self.sim
        km = sim.distance_km
        out = {
            "predicted_range_km": float(sim.trace_range_km),
            "energy_wh_per_km": float(np.sum(sim.chemical_power_w * sim.dt_s) / 3600.0 / km) if km > 0 else None,
            "usable_energy_wh": float(sim.usable_energy_wh),
            "cycle_distance_km": float(km),
            "trace_miss_steps": int(sim.trace_miss_steps),
        }
        if self.cycle.is_composite:
            out["label_range_km"] = float(sim.range_km)
        # Whether the run is a valid test of its procedure (the bench refuses or flags one that is not),
        # and the 90 % band from the inputs' uncertainty, scaled onto the predicted (unadjusted) range.
        out["procedure"] = sim.procedure
        out["valid_test"] = bool(sim.valid_test)
        out["validity_reason"] = sim.validity_reason
        out["test_mass_kg"] = float(sim.test_mass_kg)
        band = sim.band
        if band and sim.range_km > 0:
            scale = sim.trace_range_km / sim.range_km
            out["range_km_p05"] = float(band["range_km_p05"] * scale)
            out["range_km_p95"] = float(band["range_km_p95"] * scale)
            out["energy_wh_per_km_p05"] = float(band["energy_wh_per_km_p05"])
            out["energy_wh_per_km_p95"] = float(band["energy_wh_per_km_p95"])
        return out

    def series(self, duration_s: float) -> dict[str, np.ndarray]:
        """The model's own time series over `duration_s`, the cycle repeated (the report's predicted
        curves): time (end of step), speed, pack current, terminal voltage (the model's constant
        open-circuit voltage minus I R) and SOC (1 - chemical energy / stated energy)."""
        sim, p = self.sim, self.params
        per_cycle_s = float(np.sum(sim.dt_s))
        reps = max(1, math.ceil(duration_s / per_cycle_s)) if per_cycle_s > 0 else 1
        dt = np.tile(sim.dt_s, reps)
        current = np.tile(sim.battery_current_a, reps)
        chem_wh = np.cumsum(np.tile(sim.chemical_power_w, reps) * dt) / 3600.0
        time_s = np.cumsum(dt)
        keep = time_s <= duration_s + 1e-9
        return {
            "time_s": time_s[keep],
            "speed_kmh": np.tile(sim.speed_mps, reps)[keep] * KMH_PER_MPS,
            "current_a": current[keep],
            "voltage_v": (p.pack_voltage_v - current * p.pack_resistance_ohm)[keep],
            "soc": (1.0 - chem_wh / p.pack_energy_wh)[keep],
        }


def predict(vehicle: Vehicle, cycle: Cycle) -> Prediction:
    """Run the energy model once on `cycle` (a composite's parts back to back) for `vehicle`."""
    return Prediction(vehicle=vehicle, cycle=cycle, params=params_from_vehicle(vehicle), sim=simulate(vehicle, cycle))
