"""Backward-facing, quasi-static vehicle energy model, vectorized over the whole trace.

Each step i runs from time_s[i-1] to time_s[i] at the mean of the two speeds (as FASTSim does). Power
flows wheel -> driveline -> motor/inverter (load-dependent map) -> pack terminals (+ auxiliary load)
-> pack chemistry (internal resistance). Braking power is recovered by the motor up to its power,
the pack's charge current and a speed-dependent share; the friction brakes take the rest.

Where the powertrain cannot follow the trace (power, torque, governed or motor speed), `drive`
integrates the speed the car actually reaches, a forward step on each missed second, until it is
back on the trace; energy and distance are both those of the driven trace, so a car never gets
range for distance it did not drive. `simulate` resolves an official procedure for the car first
(trace class, test mass, speed cap: procedures.py) and says whether the run is a valid test of it.

Sign convention: battery power and current are positive on discharge.

Every array function works on variants x steps: scalar parameters give one variant, 1-D parameter
arrays of equal length n give n variants evaluated in one call (`energy_per_km_batch`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from kei.errors import KeiError
from kei.units import KMH_PER_MPS, RPM_PER_RAD_S, WH_PER_J
from kei.vehicle.cycles import Cycle, flatten
from kei.vehicle.files import Vehicle


@dataclass(frozen=True)
class VehicleParams:
    """Flat numbers of one vehicle; any of the float fields may be a 1-D array (one entry per variant)."""

    mass_kg: Any                       # test mass: curb + payload
    rotating_mass_factor: Any
    drag_area_m2: Any                  # Cd x A
    rolling_resistance_coefficient: Any
    air_density_kg_m3: Any
    gravity_m_s2: Any
    driveline_efficiency: Any
    gear_ratio: Any
    wheel_radius_m: Any
    motor_peak_power_w: Any
    motor_peak_torque_nm: Any          # inf = no torque limit
    motor_max_speed_rpm: Any           # inf = no speed limit
    top_speed_mps: Any                 # governed top speed; inf = none
    regen_max_fraction: Any            # share of braking power recovered at speed
    regen_fade_coefficient: Any        # low-speed fade: share = max / (1 + a exp(-b v))
    regen_fade_rate_s_per_m: Any       # b, per m/s
    aux_power_w: Any
    pack_voltage_v: Any                # open-circuit voltage, taken constant over the discharge
    pack_resistance_ohm: Any
    pack_max_discharge_current_a: Any  # per-step (1 s) limit: the pack's PEAK (pulse) current; inf = no limit
    pack_max_charge_current_a: Any     # inf = no limit
    pack_energy_wh: Any                # stated energy
    usable_fraction: Any
    motor_map_fractions: tuple[float, ...] = ()
    motor_map_efficiencies: tuple[float, ...] = ()
    road_load_f0_n: Any = 0.0          # mass-independent road load: coastdown f0, or 0 (Crr carries it)
    road_load_f1_n_per_mps: Any = 0.0  # coastdown f1

    @property
    def n_variants(self) -> int:
        # Scalars (the common case, one car) are skipped without numpy: this runs on every simulate.
        sizes = {np.size(x) for x in (getattr(self, name) for name in _PER_VARIANT_FIELDS)
                 if not isinstance(x, (float, int))}
        sizes.discard(1)
        if len(sizes) > 1:
            raise KeiError(f"batch parameters have different lengths: {sorted(sizes)}")
        return sizes.pop() if sizes else 1


_PER_VARIANT_FIELDS = tuple(f.name for f in fields(VehicleParams) if not f.name.startswith("motor_map"))


def road_load_from_body(drag_area_m2, rolling_resistance_coefficient, road_load: dict):
    """The generic road-load convention without coastdown coefficients (configs/model_defaults.toml
    [road_load]): (drag area, rolling coefficient) as a coastdown would see them."""
    return (np.asarray(drag_area_m2, dtype=float) * road_load["aero_drag_factor"],
            np.asarray(rolling_resistance_coefficient, dtype=float) + road_load["parasitic_rolling_coefficient"])


def params_from_vehicle(v: Vehicle, test_mass_kg: float | None = None) -> VehicleParams:
    """The car's flat parameters at `test_mass_kg` (default: curb + the file's payload, or the raw
    trace's load: simulate sets each procedure's own)."""
    from kei.vehicle.procedures import raw_trace_payload_kg

    inf = math.inf
    b = v.battery
    if test_mass_kg is None:
        payload = v.load.payload_kg if v.load.payload_kg is not None else raw_trace_payload_kg()
        test_mass_kg = v.body.curb_mass_kg + payload
    rl = v.road_load
    rho = v.environment.air_density_kg_m3
    if rl.coastdown:  # measured target coefficients replace Cd, A and Crr
        drag_area, crr, f0, f1 = rl.f2_n_per_mps2 / (0.5 * rho), 0.0, rl.f0_n, rl.f1_n_per_mps
    else:
        cda, crr = road_load_from_body(v.body.drag_coefficient * v.body.frontal_area_m2,
                                       v.body.rolling_resistance_coefficient, asdict(rl))
        drag_area, crr, f0, f1 = float(cda), float(crr), 0.0, 0.0
    return VehicleParams(
        mass_kg=float(test_mass_kg),
        rotating_mass_factor=v.driveline.rotating_mass_factor,
        drag_area_m2=drag_area,
        rolling_resistance_coefficient=crr,
        air_density_kg_m3=rho,
        gravity_m_s2=v.environment.gravity_m_s2,
        driveline_efficiency=v.driveline.efficiency,
        gear_ratio=v.driveline.gear_ratio,
        wheel_radius_m=v.body.wheel_radius_m,
        motor_peak_power_w=v.motor.peak_power_kw * 1000.0,
        motor_peak_torque_nm=v.motor.peak_torque_nm if v.motor.peak_torque_nm else inf,
        motor_max_speed_rpm=v.motor.max_speed_rpm if v.motor.max_speed_rpm else inf,
        top_speed_mps=v.top_speed_kmh / KMH_PER_MPS if v.top_speed_kmh else inf,
        regen_max_fraction=v.regen.share,
        regen_fade_coefficient=v.regen.fade_coefficient,
        regen_fade_rate_s_per_m=v.regen.fade_rate_per_kmh * KMH_PER_MPS,
        aux_power_w=v.auxiliary.power_w,
        pack_voltage_v=b.nominal_voltage_v,
        pack_resistance_ohm=b.resistance_ohm,
        # Each step lasts ~1 s, well inside a cell's pulse rating, so the peak current limits it.
        pack_max_discharge_current_a=b.peak_discharge_current_a,
        pack_max_charge_current_a=b.max_charge_current_a,
        pack_energy_wh=b.energy_kwh * 1000.0,
        usable_fraction=b.usable_fraction,
        motor_map_fractions=v.motor.efficiency_power_fractions,
        motor_map_efficiencies=v.motor.efficiency_values,
        road_load_f0_n=f0,
        road_load_f1_n_per_mps=f1,
    )


def params_from_defaults(defaults: dict, **fields_) -> VehicleParams:
    """A VehicleParams from the generic defaults (configs/model_defaults.toml as loaded), the given
    fields (scalars or per-variant arrays) on top: what the optimizer's batch fit evaluates. Drag
    area and rolling coefficient are as a coastdown sees them (`road_load_from_body` of the body's)."""
    d = defaults
    regen = d["regen"]
    share = regen["cooperative_fraction"] if regen["braking"] == "cooperative" else regen["blended_fraction"]
    base = dict(
        rotating_mass_factor=d["driveline"]["rotating_mass_factor"],
        air_density_kg_m3=d["environment"]["air_density_kg_m3"], gravity_m_s2=d["environment"]["gravity_m_s2"],
        driveline_efficiency=d["driveline"]["efficiency"], gear_ratio=d["driveline"]["gear_ratio"],
        wheel_radius_m=d["body"]["wheel_radius_m"], motor_peak_torque_nm=math.inf, motor_max_speed_rpm=math.inf,
        top_speed_mps=math.inf, regen_max_fraction=share, regen_fade_coefficient=regen["fade_coefficient"],
        regen_fade_rate_s_per_m=regen["fade_rate_per_kmh"] * KMH_PER_MPS, aux_power_w=d["auxiliary"]["power_w"],
        usable_fraction=d["battery"]["usable_fraction"],
        motor_map_fractions=tuple(d["motor"]["efficiency_power_fractions"]),
        motor_map_efficiencies=tuple(d["motor"]["efficiency_values"]),
    )
    base.update(fields_)
    return VehicleParams(**base)


def _col(x: Any) -> np.ndarray:
    """A parameter as a (n, 1) column (or a scalar) so it broadcasts against (steps,) traces."""
    a = np.asarray(x, dtype=float)
    return a[:, None] if a.ndim == 1 else a


def _terminal_power_limit_w(voltage_v, resistance_ohm, current_a):
    """Terminal power at `current_a` (the pack's max power if the current exceeds V / 2R)."""
    current_a = np.minimum(current_a, voltage_v / (2.0 * np.maximum(resistance_ohm, 1e-12)))
    return voltage_v * current_a - current_a**2 * resistance_ohm


def charge_power_limit_w(voltage_v, resistance_ohm, current_a):
    """Power the pack terminals absorb at charge current `current_a` (> 0): V I + I^2 R."""
    with np.errstate(invalid="ignore"):  # inf x 0 when there is no limit and no resistance
        return np.where(np.isinf(current_a), np.inf, voltage_v * current_a + current_a**2 * resistance_ohm)


@lru_cache(maxsize=64)
def _motor_map(fractions: tuple, efficiencies: tuple):
    """The map as arrays, with its segments as lines eta = icpt + slope * f and the electrical
    power / peak at each point: input (f / eta) for traction, output (f * eta) for regeneration."""
    fr, ef = np.asarray(fractions, dtype=float), np.asarray(efficiencies, dtype=float)
    slope = np.diff(ef) / np.diff(fr)
    return fr, ef, slope, ef[:-1] - slope * fr[:-1], fr / ef, fr * ef


def _shaft_power_w(electric_w, peak_w, motor_map, traction: bool):
    """The shaft power whose electrical power is `electric_w`: the exact inverse of the motor map,
    input = shaft / eta(shaft / peak) for traction and output = shaft * eta(shaft / peak) for
    regeneration, eta piecewise linear in the load fraction (both rise with shaft power: see
    vehicle._check_motor_map). Capped at the motor's peak."""
    _, _, slope, icpt, knots_in, knots_out = motor_map
    knots = knots_in if traction else knots_out
    x = np.minimum(np.maximum(electric_w / peak_w, 0.0), knots[-1])
    k = np.minimum(np.maximum(np.searchsorted(knots, x, side="right") - 1, 0), len(slope) - 1)
    a, b = icpt[k], slope[k]
    if traction:  # x = f / (a + b f)  =>  f = a x / (1 - b x)
        return peak_w * a * x / (1.0 - b * x)
    # x = f (a + b f)  =>  f = 2 x / (a + sqrt(a^2 + 4 b x)), the root that stays finite as b -> 0
    return peak_w * 2.0 * x / (a + np.sqrt(np.maximum(a * a + 4.0 * b * x, 0.0)))


def _pack_shaft_limit_w(p: VehicleParams, motor_map):
    """Shaft power the pack's peak current (after the auxiliary load) feeds, per variant (column)."""
    voltage, resistance = _col(p.pack_voltage_v), _col(p.pack_resistance_ohm)
    pack_dis_w = _terminal_power_limit_w(voltage, resistance, _col(p.pack_max_discharge_current_a)) - _col(p.aux_power_w)
    return _shaft_power_w(np.maximum(pack_dis_w, 0.0), _col(p.motor_peak_power_w), motor_map, traction=True)


def speed_cap_mps(p: VehicleParams) -> np.ndarray:
    """The speed a car cannot exceed, per variant: governed top speed or the motor's speed limit."""
    motor = np.asarray(p.motor_max_speed_rpm, dtype=float) / RPM_PER_RAD_S / np.asarray(p.gear_ratio, dtype=float) \
        * np.asarray(p.wheel_radius_m, dtype=float)
    return np.minimum(np.asarray(p.top_speed_mps, dtype=float), motor)


# Newton iterations of the forward step's power root (quadratic convergence from the trace's speed:
# 1e-12 relative within ~6; 16 leave a margin for steps that fall far behind).
FORWARD_NEWTON_STEPS = 16


def _forward_step(c: dict, v0, target, dt: float, theta: float):
    """End speeds of one step from `v0` (per variant) towards `target` at full traction: the largest
    mean speed x whose wheel demand W(x) fits within eta_d x min(peak, pack, torque x speed).

    With x = (v0 + v1) / 2, v1^2 - v0^2 = 4 x (x - v0), so W(x) = c3 x^3 + a2 x^2 + a1 x, convex for
    x > 0: Newton from the trace's speed converges from above onto the power limit, and the torque
    limit (W(x) = tau x) is a quadratic's root."""
    km = c["rot"] * c["m"]
    a2 = 2.0 * km / dt + c["f1"]
    a1 = c["m"] * c["g"] * (c["crr"] * math.cos(theta) + math.sin(theta)) + c["f0"] - 2.0 * km * v0 / dt
    c3 = c["c3"]
    lo, hi = 0.5 * v0, 0.5 * (v0 + target)

    def wheel(x):
        return ((c3 * x + a2) * x + a1) * x

    power = c["eta"] * c["power"]
    tau = c["eta"] * c["tau"]
    ok = wheel(hi) <= np.minimum(power, tau * hi) * (1 + 1e-9) + 1e-6
    x = hi.copy()
    for _ in range(FORWARD_NEWTON_STEPS):
        g = wheel(x) - power
        slope = (3.0 * c3 * x + 2.0 * a2) * x + a1
        x = np.where(g > 0, np.maximum(x - g / np.where(slope > 0, slope, np.inf), lo), x)
    with np.errstate(invalid="ignore", divide="ignore"):
        cc = a1 - tau                                            # c3 x^2 + a2 x + cc = 0
        root = 2.0 * -cc / (a2 + np.sqrt(np.maximum(a2 * a2 - 4.0 * c3 * cc, 0.0)))
        x_torque = np.where(np.isinf(tau), np.inf, np.where(cc < 0, root, lo))
    x = np.clip(np.minimum(x, x_torque), lo, hi)
    return np.where(ok, target, np.maximum(2.0 * x - v0, 0.0))


def drive(p: VehicleParams, time_s: np.ndarray, speed_mps: np.ndarray, grade_percent: np.ndarray) -> np.ndarray:
    """The speeds the car reaches at each sample, (variants, samples): the trace, capped at the car's
    speed limit, and where power or torque cannot follow it, a forward step per missed second until
    the car is back on the trace (the distance lost is not made up, as on a dynamometer)."""
    return drive_and_run(p, time_s, speed_mps, grade_percent)[0]


def drive_and_run(p: VehicleParams, time_s, speed_mps, grade_percent) -> tuple[np.ndarray, dict]:
    """`drive`, and `run_trace` on the driven speeds (one backward run when the car follows)."""
    driven, r = _drive(p, time_s, speed_mps, grade_percent)
    return driven, (r if r is not None else run_trace(p, time_s, driven, grade_percent))


def _drive(p: VehicleParams, time_s, speed_mps, grade_percent):
    n = p.n_variants
    cap = np.broadcast_to(speed_cap_mps(p).reshape(-1), (n,))
    ref = np.minimum(np.asarray(speed_mps, dtype=float)[None, :], cap[:, None])
    # One car: the trace as one row (run_trace's 1-D form, its fastest).
    r = run_trace(p, time_s, ref[0] if n == 1 else ref, grade_percent)
    miss = np.broadcast_to(np.atleast_2d(r["miss"]), (n, len(time_s) - 1))
    missed_steps = np.flatnonzero(miss.any(axis=0))
    if not len(missed_steps):
        return ref, r
    motor_map = _motor_map(tuple(p.motor_map_fractions), tuple(p.motor_map_efficiencies))

    def per_variant(x):
        return np.broadcast_to(np.asarray(x, dtype=float).reshape(-1), (n,))

    c = {"m": per_variant(p.mass_kg), "rot": per_variant(p.rotating_mass_factor), "g": per_variant(p.gravity_m_s2),
         "crr": per_variant(p.rolling_resistance_coefficient), "f0": per_variant(p.road_load_f0_n),
         "f1": per_variant(p.road_load_f1_n_per_mps),
         "c3": per_variant(0.5 * np.asarray(p.air_density_kg_m3) * np.asarray(p.drag_area_m2)),
         "eta": per_variant(p.driveline_efficiency),
         "power": np.minimum(per_variant(p.motor_peak_power_w), per_variant(_pack_shaft_limit_w(p, motor_map))),
         "tau": per_variant(np.asarray(p.motor_peak_torque_nm) * np.asarray(p.gear_ratio) / np.asarray(p.wheel_radius_m))}
    dt, theta = np.diff(time_s), np.arctan(np.asarray(grade_percent, dtype=float)[1:] / 100.0)
    driven = ref.copy()
    behind = np.zeros(n, dtype=bool)
    i, steps = int(missed_steps[0]), len(dt)
    while i < steps:
        active = behind | miss[:, i]
        if not active.any():  # everyone on the trace: the backward run holds until the next miss
            later = missed_steps[missed_steps > i]
            if not len(later):
                break
            i = int(later[0])
            continue
        k = np.flatnonzero(active)
        v1 = _forward_step({key: val[k] for key, val in c.items()}, driven[k, i], ref[k, i + 1], float(dt[i]),
                           float(theta[i]))
        driven[k, i + 1] = v1
        behind[k] = v1 < ref[k, i + 1] - 1e-9
        i += 1
    return driven, None


def run_trace(p: VehicleParams, time_s: np.ndarray, speed_mps: np.ndarray, grade_percent: np.ndarray) -> dict:
    """All per-step powers (W) and durations for a trace; arrays are (variants, steps) or (steps,)."""
    dt = np.diff(time_s)
    speed_mps = np.asarray(speed_mps, dtype=float)
    if speed_mps.ndim == 2 and speed_mps.shape[0] != len(time_s):  # (variants, samples): one trace each
        v0, v1 = speed_mps[:, :-1], speed_mps[:, 1:]
    else:  # (samples,) or (samples, candidates) as the bench's forward fallback gives them
        v0, v1 = speed_mps[:-1], speed_mps[1:]
    v_avg = 0.5 * (v0 + v1)
    grade = np.arctan(grade_percent[1:] / 100.0)

    m = _col(p.mass_kg)
    g = _col(p.gravity_m_s2)
    inertia = m * _col(p.rotating_mass_factor) * (v1**2 - v0**2) / (2.0 * dt)
    aero = 0.5 * _col(p.air_density_kg_m3) * _col(p.drag_area_m2) * v_avg**3
    # Tyres roll only while moving: a car at rest costs no rolling resistance. A coastdown's f0 and
    # f1 (zero when the body's Crr carries the road load) go with it.
    rolling = (m * g * _col(p.rolling_resistance_coefficient) * np.cos(grade) + _col(p.road_load_f0_n)
               + _col(p.road_load_f1_n_per_mps) * v_avg) * v_avg
    climbing = m * g * np.sin(grade) * v_avg
    wheel = inertia + aero + rolling + climbing

    eta_d = _col(p.driveline_efficiency)
    peak = _col(p.motor_peak_power_w)
    motor_map = _motor_map(tuple(p.motor_map_fractions), tuple(p.motor_map_efficiencies))
    fr, ef = motor_map[0], motor_map[1]

    def motor_eff(out_w):
        return np.interp(np.minimum(np.abs(out_w) / peak, 1.0), fr, ef)

    voltage, resistance = _col(p.pack_voltage_v), _col(p.pack_resistance_ohm)
    aux_col = _col(p.aux_power_w)  # constant per variant: the limits below stay (variants, 1) columns
    aux = aux_col * np.ones_like(v_avg)

    # Traction limits at the motor shaft: power, torque (through the gear at this speed), pack.
    wheel_speed = v_avg / _col(p.wheel_radius_m)
    motor_rpm = wheel_speed * _col(p.gear_ratio) * RPM_PER_RAD_S
    torque = _col(p.motor_peak_torque_nm)
    with np.errstate(invalid="ignore"):  # inf x 0 at standstill: no torque limit there
        torque_limit = np.where(np.isinf(torque), np.inf, torque * wheel_speed * _col(p.gear_ratio))
    pack_limit = _pack_shaft_limit_w(p, motor_map)
    out_limit = np.minimum(np.minimum(peak, torque_limit), pack_limit)
    overspeed = (motor_rpm > _col(p.motor_max_speed_rpm)) | (v1 > _col(p.top_speed_mps) * (1 + 1e-9))
    out_limit = np.where(overspeed, 0.0, out_limit)

    traction = wheel > 0
    out_wanted = np.where(traction, wheel / eta_d, 0.0)
    out_pos = np.minimum(out_wanted, out_limit)
    shortfall = np.where(traction, (out_wanted - out_pos) * eta_d, 0.0)  # at the wheel
    miss = traction & (out_wanted > out_limit * (1 + 1e-9) + 1e-6)

    # Regeneration: a speed-dependent share of braking (FASTSim 2's logistic fade), limited by motor
    # power and charge current.
    share = _col(p.regen_max_fraction) / (1.0 + _col(p.regen_fade_coefficient)
                                          * np.exp(-_col(p.regen_fade_rate_s_per_m) * v_avg))
    braking = np.where(traction, 0.0, -wheel)  # positive braking power at the wheel
    # The motor may feed the pack what it absorbs at its charge current limit, plus the auxiliary load.
    charge_w = charge_power_limit_w(voltage, resistance, _col(p.pack_max_charge_current_a)) + aux_col
    charge_cap = _shaft_power_w(charge_w, peak, motor_map, traction=False)
    regen_shaft = np.minimum(np.minimum(braking * share * eta_d, peak), charge_cap)
    regen_wheel = regen_shaft / eta_d
    friction = braking - regen_wheel

    eta_m_out = motor_eff(out_pos)
    eta_m_in = motor_eff(regen_shaft)
    motor_elec = np.where(traction, out_pos / eta_m_out, -regen_shaft * eta_m_in)
    driveline_loss = np.where(traction, out_pos * (1 - eta_d), regen_wheel * (1 - eta_d))
    motor_loss = np.where(traction, out_pos / eta_m_out - out_pos, regen_shaft * (1 - eta_m_in))

    terminal = motor_elec + aux
    # Current from P = V I - I^2 R, in the form that stays exact as R -> 0.
    disc = np.maximum(voltage**2 - 4.0 * resistance * terminal, 0.0)
    current = 2.0 * terminal / (voltage + np.sqrt(disc))
    chemical = voltage * current
    battery_loss = current**2 * resistance

    return {
        "dt_s": dt, "v_avg_mps": v_avg, "wheel_w": wheel, "inertia_w": inertia, "aero_w": aero,
        "rolling_w": rolling, "grade_w": climbing, "friction_brake_w": friction, "driveline_loss_w": driveline_loss,
        "motor_loss_w": motor_loss, "aux_w": aux, "battery_loss_w": battery_loss, "shortfall_w": shortfall,
        "terminal_w": terminal, "current_a": current, "chemical_w": chemical, "miss": miss,
        "motor_out_w": np.where(traction, out_pos, -regen_shaft),
    }


@dataclass(frozen=True, eq=False)
class SimResult:
    """One vehicle on one cycle or procedure. Arrays are per step of the DRIVEN trace (step i ends at
    time_s[i]); energies in Wh. For a procedure the trace is the one the procedure gives this car."""

    vehicle_name: str
    cycle: Cycle
    time_s: np.ndarray
    speed_mps: np.ndarray         # driven speed at the end of each step
    dt_s: np.ndarray
    distance_m: np.ndarray        # per step, driven
    wheel_power_w: np.ndarray
    motor_power_w: np.ndarray     # shaft; negative while regenerating
    battery_power_w: np.ndarray   # terminal; discharge > 0
    battery_current_a: np.ndarray  # at the (constant) pack open-circuit voltage
    chemical_power_w: np.ndarray  # drawn from the cells, terminal + resistive loss
    soc: np.ndarray               # at the end of each step, starting full
    ledger_wh: dict
    energy_wh_per_km: float       # chemical energy per driven distance: what empties the pack
    terminal_wh_per_km: float
    range_km: float               # the procedure's range (label rule applied); see valid_test
    trace_miss_s: float           # time the car spent behind the trace it was given
    trace_miss_steps: int
    shortfall_wh: float
    max_battery_power_kw: float
    usable_energy_wh: float
    # The flattened trace driven back to back to empty, unadjusted: equal to range_km for a plain
    # cycle; for a composite the multi-cycle range before its label rule (what a bench measures).
    trace_range_km: float = math.nan
    miss: np.ndarray | None = None  # per step: the car was behind the trace at the step's end
    time_start_s: float = 0.0       # the trace's first sample (steps start there)
    speed_start_mps: float = 0.0
    grade_percent: np.ndarray | None = None  # per trace sample (n steps + 1)
    # The procedure and whether this run is a valid test of it.
    procedure: str = ""
    test_mass_kg: float = math.nan
    mass_rule: str = ""
    trace_rule: str = ""
    valid_test: bool = True
    validity_reason: str = ""        # why not, when valid_test is False
    trace_speed_mps: np.ndarray | None = None   # what the trace asked at each step's end
    ac_energy_wh_per_km: float = math.nan       # at the wall (label consumption): chemical / charging efficiency
    vehicle: Vehicle | None = None
    params: VehicleParams | None = None          # at the test mass
    run_cycle: Cycle | None = None               # the resolved trace(s) the car was given

    @property
    def distance_km(self) -> float:
        return float(self.distance_m.sum() / 1000.0)

    @property
    def trace_distance_km(self) -> float:
        """What the trace (after the procedure's cap and compensation) asked for, km."""
        if self.trace_speed_mps is None:
            return self.distance_km
        v = np.concatenate([[self.speed_start_mps], self.trace_speed_mps])
        return float(np.sum(0.5 * (v[1:] + v[:-1]) * self.dt_s) / 1000.0)

    @property
    def duration_s(self) -> float:
        return float(self.dt_s.sum())

    def to_dict(self) -> dict:
        """The result's figures (what `kei simulate --json` prints); the time series are in
        `timeseries()` (`kei simulate --csv`)."""
        return self.summary()

    def timeseries(self) -> dict[str, np.ndarray]:
        """Per step, in the units the keys name (step i ends at time_s[i])."""
        return {"time_s": self.time_s, "speed_mps": self.speed_mps, "distance_m": self.distance_m,
                "wheel_power_w": self.wheel_power_w, "motor_power_w": self.motor_power_w,
                "battery_power_w": self.battery_power_w, "battery_current_a": self.battery_current_a,
                "chemical_power_w": self.chemical_power_w, "soc": self.soc}
    @cached_property
    def band(self) -> dict:
        """The 90 % band of range and energy from the uncertainty of the inputs (uncertainty.py)."""
        from kei.vehicle.uncertainty import band_for

        return band_for(self)

    def summary(self) -> dict:
        out = {
            "vehicle": self.vehicle_name,
            "cycle": self.cycle.name,
            "procedure": self.procedure,
            "trace": self.trace_rule,
            "test_mass_kg": round(self.test_mass_kg, 1),
            "test_mass_rule": self.mass_rule,
            "valid_test": self.valid_test,
            "validity_reason": self.validity_reason,
            "duration_s": round(self.duration_s, 1),
            "distance_km": round(self.distance_km, 3),
            "trace_distance_km": round(self.trace_distance_km, 3),
            "energy_wh_per_km": round(self.energy_wh_per_km, 2),
            "terminal_energy_wh_per_km": round(self.terminal_wh_per_km, 2),
            "ac_energy_wh_per_km": round(self.ac_energy_wh_per_km, 2),
            "range_km": round(self.range_km, 2),
            "usable_energy_kwh": round(self.usable_energy_wh / 1000.0, 3),
            "trace_miss_s": round(self.trace_miss_s, 1),
            "shortfall_wh": round(self.shortfall_wh, 2),
            "max_battery_power_kw": round(self.max_battery_power_kw, 2),
            "min_battery_power_kw": round(float(self.battery_power_w.min()) / 1000.0, 2),
            "ledger_wh": {k: round(v, 2) for k, v in self.ledger_wh.items()},
        }
        out.update({k: round(v, 2) for k, v in self.band.items() if k not in ("samples", "inputs")})
        return out


LEDGER_TERMS = ("inertia_w", "aero_w", "rolling_w", "grade_w", "friction_brake_w", "driveline_loss_w",
                "motor_loss_w", "battery_loss_w", "aux_w")


def _ledger(r: dict) -> dict:
    dt = r["dt_s"]
    led = {k.removesuffix("_w"): float(np.dot(r[k], dt) * WH_PER_J) for k in LEDGER_TERMS}
    led["shortfall"] = -float(np.dot(r["shortfall_w"], dt) * WH_PER_J)
    led["battery_chemical"] = float(np.dot(r["chemical_w"], dt) * WH_PER_J)
    return led


def drive_to_empty_km(cum_wh: np.ndarray, cum_km: np.ndarray, usable_wh: float) -> float:
    """Range over a cycle repeated until `usable_wh` is spent (SAE J1634 multi-cycle style).

    `cum_wh` and `cum_km` are the cumulative chemical energy and distance over one cycle, per step.
    """
    per_cycle_wh, per_cycle_km = float(cum_wh[-1]), float(cum_km[-1])
    if per_cycle_wh <= 0:
        return math.inf
    # Regen makes cum_wh non-monotonic inside a cycle, so the pack is empty at the first crossing:
    # a cycle counts as whole only if its peak still fits in what is left.
    peak = np.maximum.accumulate(cum_wh)
    full = max(math.floor((usable_wh - peak[-1]) / per_cycle_wh) + 1, 0)
    rest = usable_wh - full * per_cycle_wh  # in [peak - per_cycle, peak): crossed in the next cycle
    if rest <= 0:
        return full * per_cycle_km
    i = int(np.searchsorted(peak, rest))  # first step that reaches `rest`; cum_wh[i] == peak[i]
    e0 = cum_wh[i - 1] if i > 0 else 0.0
    d0 = cum_km[i - 1] if i > 0 else 0.0
    frac = (rest - e0) / max(cum_wh[i] - e0, 1e-12)
    return full * per_cycle_km + d0 + frac * (cum_km[i] - d0)


def _part_stats(r: dict, dist_m: np.ndarray, usable_wh: float) -> dict:
    cum_wh = np.cumsum(r["chemical_w"] * r["dt_s"]) * WH_PER_J
    cum_km = np.cumsum(dist_m) / 1000.0
    return {"wh": float(cum_wh[-1]), "km": float(cum_km[-1]), "cum_wh": cum_wh, "cum_km": cum_km,
            "range_km": drive_to_empty_km(cum_wh, cum_km, usable_wh)}


def simulate(v: Vehicle, cycle: Cycle) -> SimResult:
    """Run one vehicle on one cycle or procedure. A procedure is resolved for the car (trace class,
    test mass, speed cap); a composite runs its parts back to back with its range rule (energy per
    distance weighted, range x factor). The car drives what it can (`drive`); the result says
    whether that is a valid test of the procedure."""
    from kei.vehicle.procedures import below_tolerance, setup_for

    setup = setup_for(v, cycle)
    p = params_from_vehicle(v, setup.test_mass_kg)
    run = setup.cycle
    trace = flatten(run)
    driven, r = drive_and_run(p, trace.time_s, trace.speed_mps, trace.grade_percent)
    driven = driven[0]
    r = {k: (val[0] if isinstance(val, np.ndarray) and val.ndim == 2 else val) for k, val in r.items()}
    dist_m = r["v_avg_mps"] * r["dt_s"]
    usable = v.battery.usable_energy_wh
    whole = _part_stats(r, dist_m, usable)
    behind = driven[1:] < trace.speed_mps[1:] - 1e-6
    miss = behind | np.asarray(r["miss"], dtype=bool)
    km = whole["km"]
    whkm = whole["wh"] / km if km > 0 else math.inf
    range_km = whole["range_km"] * run.range_factor
    if run.is_composite:
        part_whkm, part_range, start = [], [], 0
        for part, weight in run.parts:
            sl = slice(start, start + len(part.time_s) - 1)
            start = sl.stop
            s = _part_stats({k: r[k][sl] for k in ("chemical_w", "dt_s")}, dist_m[sl], usable)
            part_whkm.append((weight, s["wh"] / s["km"] if s["km"] > 0 else math.inf))
            part_range.append((weight, s["range_km"]))
        whkm = sum(w * e for w, e in part_whkm)
        # Label rule: unadjusted ranges combined harmonically (on energy per distance), then x factor.
        range_km = run.range_factor / sum(w / rng for w, rng in part_range) if all(rng > 0 for _, rng in part_range) else 0.0
    low = below_tolerance(trace.time_s, trace.speed_mps, driven, setup.speed_tolerance_kmh, setup.time_tolerance_s)
    valid, reason = True, ""
    if low.any() or km <= 0:
        deficit_kmh = float(np.max(trace.speed_mps - driven)) * KMH_PER_MPS
        what = f"a valid {setup.procedure} test" if setup.procedure else f"a valid run of the {trace.name} trace"
        valid = False
        reason = (f"fell up to {deficit_kmh:.1f} km/h behind the trace for {int(low.sum())} s, outside the "
                  f"{setup.speed_tolerance_kmh:g} km/h / {setup.time_tolerance_s:g} s tolerance (power, torque or "
                  f"speed limit): not {what}; drove {km:.2f} of {trace.distance_km:.2f} km")
    term_wh = float(np.sum(r["terminal_w"] * r["dt_s"]) * WH_PER_J)
    soc = 1.0 - whole["cum_wh"] / p.pack_energy_wh
    return SimResult(
        vehicle_name=v.name, cycle=cycle, time_s=trace.time_s[1:], speed_mps=driven[1:],
        dt_s=r["dt_s"], distance_m=dist_m, wheel_power_w=r["wheel_w"], motor_power_w=r["motor_out_w"],
        battery_power_w=r["terminal_w"], battery_current_a=r["current_a"], chemical_power_w=r["chemical_w"],
        soc=soc, ledger_wh=_ledger(r), energy_wh_per_km=float(whkm),
        terminal_wh_per_km=term_wh / km if km > 0 else math.inf, range_km=float(range_km),
        trace_miss_s=float(np.sum(r["dt_s"] * miss)), trace_miss_steps=int(np.sum(miss)),
        shortfall_wh=float(np.sum(r["shortfall_w"] * r["dt_s"]) * WH_PER_J),
        max_battery_power_kw=float(r["terminal_w"].max() / 1000.0),
        usable_energy_wh=usable, trace_range_km=float(whole["range_km"]), miss=miss,
        time_start_s=float(trace.time_s[0]), speed_start_mps=float(driven[0]), grade_percent=trace.grade_percent,
        procedure=setup.procedure, test_mass_kg=float(setup.test_mass_kg), mass_rule=setup.mass_rule,
        trace_rule=setup.trace_rule, valid_test=valid, validity_reason=reason, trace_speed_mps=trace.speed_mps[1:],
        ac_energy_wh_per_km=float(whkm) / v.charging.ac_dc_efficiency, vehicle=v, params=p, run_cycle=run,
    )


# Variants per block in a batch: large enough to amortize numpy's per-call overhead, small enough
# that the (variants x steps) temporaries stay in cache (bench/simulate.py measured 16-32 best).
BATCH_BLOCK = 32


def energy_per_km_batch(p: VehicleParams, cycle: Cycle) -> np.ndarray:
    """Chemical Wh/km at the pack for every variant in `p` (1-D array, length p.n_variants), each
    driving what it can of the trace (`drive`) and counting its own driven distance.

    For a composite cycle: the weighted energy per distance of its parts, as the label rule does.
    A procedure placeholder is driven on its default trace (the optimizer's fit; `simulate` resolves
    the procedure per car).
    """
    n = p.n_variants
    parts = cycle.parts if cycle.is_composite else ((cycle, 1.0),)
    total = np.zeros(n)
    for start in range(0, n, BATCH_BLOCK):
        stop = min(start + BATCH_BLOCK, n)
        block = _slice_params(p, start, stop)
        for part, weight in parts:
            _, r = drive_and_run(block, part.time_s, part.speed_mps, part.grade_percent)
            wh = np.sum(np.atleast_2d(r["chemical_w"]) * r["dt_s"], axis=-1) * WH_PER_J
            km = np.sum(np.atleast_2d(r["v_avg_mps"]) * r["dt_s"], axis=-1) / 1000.0
            total[start:stop] += weight * wh / km
    return total


def _slice_params(p: VehicleParams, start: int, stop: int) -> VehicleParams:
    """Variants start..stop of `p`; scalars and length-1 arrays apply to every variant and stay whole."""
    sliced = {}
    for f in fields(p):
        value = getattr(p, f.name)
        if not f.name.startswith("motor_map") and np.ndim(value) == 1 and np.size(value) > 1:
            sliced[f.name] = value[start:stop]
    return replace(p, **sliced)


def batch_params(p: VehicleParams, **arrays) -> VehicleParams:
    """`p` with some fields replaced by equal-length 1-D arrays (one entry per variant)."""
    return replace(p, **{k: np.asarray(v, dtype=float) for k, v in arrays.items()})
