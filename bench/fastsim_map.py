"""Our vehicle and cycles as NREL FASTSim 3 objects, for bench/simulate.py.

FASTSim is the `[bench]` extra (`pip install -e '.[bench]'`): never a runtime or test dependency,
imported only here. Parameter mapping, ours -> FASTSim 3.1 (field names as in FASTSim's YAML):

| ours                                   | FASTSim 3                                                      |
|----------------------------------------|----------------------------------------------------------------|
| test mass (curb + payload)             | `mass_kilograms` (whole vehicle; no component masses)          |
| Cd A, Crr as the model uses them (after the road-load convention), wheel radius | `chassis.drag_coef` x `frontal_area_square_meters` (A kept, Cd = CdA / A), `wheel_rr_coef`, `wheel_radius_meters` |
| coastdown f0 + f1 v + f2 v^2 | the Crr and Cd A whose Crr m g + 1/2 rho Cd A v^2 fits it best (least squares, 0-70 mi/h), as FASTSim 2's `abc_to_drag_coeffs` does: FASTSim 3 has no linear term |
| rotating-mass factor k                 | `chassis.wheel_inertia_kilogram_square_meters` = (k - 1) m r^2 / 4 (4 wheels): same equivalent mass |
| driveline efficiency                   | `transmission.eff_interp` (constant)                           |
| motor peak power and map (output/peak) | `em.pwr_out_max_watts`, `em.eff_interp_achieved` (same grid and values) |
| auxiliary power                        | `pwr_aux_base_watts` (no cabin or HVAC model)                  |
| pack: I^2 R at constant OCV            | `res.eff_interp` by C-rate, tabulated from our R: discharge eff = 1 - I R / V, charge eff = V / (V + I R), C-rate = terminal power / stated energy per hour (checked against FASTSim's output: equal to 1e-7) |
| pack power limit (V^2/4R or the cell current) | `res.pwr_out_max_watts`                                 |
| usable share                           | not mapped: SOC starts at 0.5 with limits 0-1 so no SOC ramp binds; we compare energy per km |

Not mapped because FASTSim 3 has no such parameter: motor torque limit, gear ratio, governed top
speed, regen share and its low-speed fade. The template's tyre-grip fields (friction coefficient, CG
height, axle load share, wheelbase) stay as shipped; they only limit traction, which does not bind
on these cycles (FASTSim reports the trace met).
"""
from __future__ import annotations

import math

import fastsim as fsim
import numpy as np

from kei.vehicle.cycles import Cycle
from kei.vehicle.energy import params_from_vehicle
from kei.vehicle.files import Vehicle

# A battery-electric vehicle file shipped inside the fastsim wheel; only its structure is used,
# every number that matters is overwritten below.
TEMPLATE = "2022_Renault_Zoe_ZE50_R135.yaml"
N_WHEELS = 4
C_RATE_GRID = np.concatenate([-np.geomspace(8.0, 0.005, 60), [0.0], np.geomspace(0.005, 8.0, 60)])
START_SOC = 0.5
DICT_FORMAT = "yaml"  # plain nested lists for interpolation tables (msgpack wraps them as n-d arrays)
J_PER_WH = 3600.0


def battery_efficiency_by_c_rate(voltage_v: float, resistance_ohm: float, energy_wh: float):
    """Our I^2 R pack as FASTSim's one-way efficiency against C-rate (terminal power / energy per hour)."""
    power_w = C_RATE_GRID * energy_wh
    current_a = 2 * power_w / (voltage_v + np.sqrt(np.maximum(voltage_v**2 - 4 * resistance_ohm * power_w, 0)))
    eff = np.where(power_w >= 0, 1 - current_a * resistance_ohm / voltage_v,
                   voltage_v / (voltage_v + np.abs(current_a) * resistance_ohm))
    return C_RATE_GRID.tolist(), eff.tolist()


# FASTSim 2's abc_to_drag_coeffs fits its Cd and Crr to a coastdown from 70 mi/h to rest: the same span here.
COASTDOWN_FIT_MAX_MPS = 70 * 0.44704


def rolling_and_drag_area(p) -> tuple[float, float]:
    """(Crr, Cd A) for FASTSim: the model's own where it uses Cd A and Crr; for a coastdown, the pair whose
    Crr m g + 1/2 rho Cd A v^2 is the least-squares fit of f0 + f1 v + f2 v^2 on 0-70 mi/h."""
    f0, f1 = float(p.road_load_f0_n), float(p.road_load_f1_n_per_mps)
    f2 = 0.5 * float(p.air_density_kg_m3) * float(p.drag_area_m2)
    if f0 == 0.0 and f1 == 0.0:
        return float(p.rolling_resistance_coefficient), float(p.drag_area_m2)
    v = np.linspace(0.0, COASTDOWN_FIT_MAX_MPS, 141)
    (a, c), *_ = np.linalg.lstsq(np.column_stack([np.ones_like(v), v**2]), f0 + f1 * v + f2 * v**2, rcond=None)
    crr = float(p.rolling_resistance_coefficient) + float(a) / (float(p.mass_kg) * float(p.gravity_m_s2))
    return crr, 2.0 * float(c) / float(p.air_density_kg_m3)


def fastsim_vehicle(v: Vehicle, save_history: bool):
    p = params_from_vehicle(v)
    crr, drag_area = rolling_and_drag_area(p)
    d = fsim.Vehicle.from_resource(TEMPLATE).to_dict(data_fmt=DICT_FORMAT)
    d.update(name=v.name, year="0", mass_kilograms=float(p.mass_kg), pwr_aux_base_watts=float(p.aux_power_w),
             save_interval=1 if save_history else None)
    d["chassis"].update(
        drag_coef=drag_area / v.body.frontal_area_m2, frontal_area_square_meters=v.body.frontal_area_m2,
        wheel_rr_coef=crr, wheel_radius_meters=v.body.wheel_radius_m, num_wheels=N_WHEELS,
        wheel_inertia_kilogram_square_meters=(p.rotating_mass_factor - 1) * p.mass_kg * p.wheel_radius_m**2 / N_WHEELS,
        glider_mass_kilograms=None, cargo_mass_kilograms=None, mass_kilograms=None)
    bev = d["pt_type"]["BEV"]
    bev["transmission"]["eff_interp"] = float(p.driveline_efficiency)
    fractions, effs = [float(x) for x in p.motor_map_fractions], [float(x) for x in p.motor_map_efficiencies]
    em = bev["em"]
    em["pwr_out_max_watts"] = float(p.motor_peak_power_w)
    em["eff_interp_achieved"]["data"] = {"grid": [fractions], "values": effs}
    em["eff_interp_at_max_input"]["data"] = {"grid": [[f / e for f, e in zip(fractions, effs)]], "values": effs}
    res = bev["res"]
    volt, ohm = float(p.pack_voltage_v), float(p.pack_resistance_ohm)
    max_a = min(float(p.pack_max_discharge_current_a), volt / (2 * ohm))
    grid, eff = battery_efficiency_by_c_rate(volt, ohm, float(p.pack_energy_wh))
    res.update(energy_capacity_joules=float(p.pack_energy_wh) * J_PER_WH, min_soc=0.0, max_soc=1.0,
               pwr_out_max_watts=volt * max_a - max_a**2 * ohm, mass_kilograms=None,
               eff_interp={"CRate": {"data": {"grid": [grid], "values": eff}, "strategy": "Linear",
                                     "extrapolate": "Clamp"}})
    res["state"]["soc"] = START_SOC
    return fsim.Vehicle.from_dict(d, data_fmt=DICT_FORMAT)


def fastsim_cycle(c: Cycle):
    return fsim.Cycle.from_dict({"time_seconds": c.time_s.tolist(), "speed_meters_per_second": c.speed_mps.tolist(),
                                 "grade": (c.grade_percent / 100.0).tolist()})


def sim_params():
    params = fsim.SimParams.default().to_dict()
    params["trace_miss_opts"] = "Allow"  # report a miss instead of raising; we count cyc_met below
    return fsim.SimParams.from_dict(params)


def run_with_history(v: Vehicle, c: Cycle) -> dict:
    """One FASTSim run with per-step history; energies in Wh, plus what FASTSim actually assumed."""
    sd = fsim.SimDrive(fastsim_vehicle(v, save_history=True), fastsim_cycle(c), sim_params())
    sd.run()
    h = sd.to_dataframe()
    veh, bev = "veh.history.", "veh.pt_type.BEV."

    def wh(column):
        return float(h[column].iloc[-1]) / J_PER_WH

    speed = h["cyc.speed_meters_per_second"].to_numpy()
    v_avg = np.r_[0.0, 0.5 * (speed[1:] + speed[:-1])]
    moving = v_avg > 1.0
    mech = h[bev + "em.history.pwr_mech_prop_out_watts"].to_numpy()
    elec = h[bev + "em.history.pwr_elec_prop_in_watts"].to_numpy()
    regen = mech < -1.0
    p = params_from_vehicle(v)
    crr, drag_area = rolling_and_drag_area(p)
    return {
        "distance_km": float(h[veh + "dist_meters"].iloc[-1]) / 1000.0,
        "chemical_wh": wh(bev + "res.history.energy_out_chemical_joules"),
        "ledger_wh": {
            "aero": wh(veh + "energy_drag_joules"), "rolling": wh(veh + "energy_rr_joules"),
            "inertia": wh(veh + "energy_accel_joules") + wh(veh + "energy_whl_inertia_joules"),
            "grade": wh(veh + "energy_ascent_joules"), "friction_brake": -wh(veh + "energy_brake_joules"),
            "driveline_loss": wh(bev + "transmission.history.energy_loss_joules"),
            "motor_loss": wh(bev + "em.history.energy_loss_joules"),
            "battery_loss": wh(bev + "res.history.energy_loss_joules"), "aux": wh(veh + "energy_aux_joules"),
        },
        "missed_steps": int((~h[veh + "cyc_met"]).sum()),
        # What FASTSim used, read back from its own output rather than assumed:
        "air_density_kg_m3": float(np.median(h[veh + "pwr_drag_watts"].to_numpy()[moving]
                                             / (0.5 * drag_area * v_avg[moving] ** 3))),
        "gravity_m_s2": float(np.median(h[veh + "pwr_rr_watts"].to_numpy()[moving]
                                        / (p.mass_kg * crr * v_avg[moving]))),
        "regen_efficiency": (float((elec[regen] / mech[regen]).min()), float((elec[regen] / mech[regen]).max()))
        if regen.any() else (math.nan, math.nan),
    }


def runs_for_timing(v: Vehicle, c: Cycle, n: int) -> list:
    """`n` ready-to-run simulations without history (FASTSim's fastest mode), built outside the timing."""
    veh, cyc, params = fastsim_vehicle(v, save_history=False), fastsim_cycle(c), sim_params()
    return [fsim.SimDrive(veh, cyc, params) for _ in range(n)]
