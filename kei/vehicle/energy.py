"""Backward-facing, quasi-static vehicle energy model, vectorized over the whole trace.

Each step i runs from time_s[i-1] to time_s[i] at the mean of the two speeds (as FASTSim does). Power
flows wheel -> driveline -> motor/inverter (load-dependent map) -> pack terminals (+ auxiliary load)
-> pack chemistry (internal resistance). Braking power is recovered by the motor up to its power,
the pack's charge current and a speed-dependent share; the friction brakes take the rest. Where the
powertrain cannot deliver what the trace asks, the demand is clipped and the step is counted as a
trace miss with its energy shortfall: the model never pretends.

Sign convention: battery power and current are positive on discharge.

Every array function works on variants x steps: scalar parameters give one variant, 1-D parameter
arrays of equal length n give n variants evaluated in one call (`energy_per_km_batch`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import lru_cache
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
    regen_max_fraction: Any
    regen_full_speed_mps: Any
    regen_zero_speed_mps: Any
    aux_power_w: Any
    pack_voltage_v: Any                # open-circuit voltage, taken constant over the discharge
    pack_resistance_ohm: Any
    pack_max_discharge_current_a: Any  # per-step (1 s) limit: the pack's PEAK (pulse) current; inf = no limit
    pack_max_charge_current_a: Any     # inf = no limit
    pack_energy_wh: Any                # stated energy
    usable_fraction: Any
    motor_map_fractions: tuple[float, ...] = ()
    motor_map_efficiencies: tuple[float, ...] = ()

    @property
    def n_variants(self) -> int:
        sizes = {np.size(getattr(self, f.name)) for f in fields(self) if not f.name.startswith("motor_map")}
        sizes.discard(1)
        if len(sizes) > 1:
            raise KeiError(f"batch parameters have different lengths: {sorted(sizes)}")
        return sizes.pop() if sizes else 1


def params_from_vehicle(v: Vehicle) -> VehicleParams:
    inf = math.inf
    b = v.battery
    return VehicleParams(
        mass_kg=v.test_mass_kg,
        rotating_mass_factor=v.driveline.rotating_mass_factor,
        drag_area_m2=v.body.drag_coefficient * v.body.frontal_area_m2,
        rolling_resistance_coefficient=v.body.rolling_resistance_coefficient,
        air_density_kg_m3=v.environment.air_density_kg_m3,
        gravity_m_s2=v.environment.gravity_m_s2,
        driveline_efficiency=v.driveline.efficiency,
        gear_ratio=v.driveline.gear_ratio,
        wheel_radius_m=v.body.wheel_radius_m,
        motor_peak_power_w=v.motor.peak_power_kw * 1000.0,
        motor_peak_torque_nm=v.motor.peak_torque_nm if v.motor.peak_torque_nm else inf,
        motor_max_speed_rpm=v.motor.max_speed_rpm if v.motor.max_speed_rpm else inf,
        top_speed_mps=v.top_speed_kmh / KMH_PER_MPS if v.top_speed_kmh else inf,
        regen_max_fraction=v.regen.max_fraction,
        regen_full_speed_mps=v.regen.full_speed_kmh / KMH_PER_MPS,
        regen_zero_speed_mps=v.regen.zero_speed_kmh / KMH_PER_MPS,
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
    )


def _col(x: Any) -> np.ndarray:
    """A parameter as a (n, 1) column (or a scalar) so it broadcasts against (steps,) traces."""
    a = np.asarray(x, dtype=float)
    return a[:, None] if a.ndim == 1 else a


def _terminal_power_limit_w(voltage_v, resistance_ohm, current_a):
    """Terminal power at `current_a` (the pack's max power if the current exceeds V / 2R)."""
    current_a = np.minimum(current_a, voltage_v / (2.0 * np.maximum(resistance_ohm, 1e-12)))
    return voltage_v * current_a - current_a**2 * resistance_ohm


def _charge_power_limit_w(voltage_v, resistance_ohm, current_a):
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


def run_trace(p: VehicleParams, time_s: np.ndarray, speed_mps: np.ndarray, grade_percent: np.ndarray) -> dict:
    """All per-step powers (W) and durations for a trace; arrays are (variants, steps) or (steps,)."""
    dt = np.diff(time_s)
    v0, v1 = speed_mps[:-1], speed_mps[1:]
    v_avg = 0.5 * (v0 + v1)
    grade = np.arctan(grade_percent[1:] / 100.0)

    m = _col(p.mass_kg)
    g = _col(p.gravity_m_s2)
    inertia = m * _col(p.rotating_mass_factor) * (v1**2 - v0**2) / (2.0 * dt)
    aero = 0.5 * _col(p.air_density_kg_m3) * _col(p.drag_area_m2) * v_avg**3
    # Tyres roll only while moving: a car at rest costs no rolling resistance.
    rolling = m * g * _col(p.rolling_resistance_coefficient) * np.cos(grade) * v_avg
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
    torque_limit = _col(p.motor_peak_torque_nm) * wheel_speed * _col(p.gear_ratio)
    pack_dis_w = _terminal_power_limit_w(voltage, resistance, _col(p.pack_max_discharge_current_a)) - aux_col
    pack_limit = _shaft_power_w(np.maximum(pack_dis_w, 0.0), peak, motor_map, traction=True)
    out_limit = np.minimum(np.minimum(peak, torque_limit), pack_limit)
    overspeed = (motor_rpm > _col(p.motor_max_speed_rpm)) | (v1 > _col(p.top_speed_mps) * (1 + 1e-9))
    out_limit = np.where(overspeed, 0.0, out_limit)

    traction = wheel > 0
    out_wanted = np.where(traction, wheel / eta_d, 0.0)
    out_pos = np.minimum(out_wanted, out_limit)
    shortfall = np.where(traction, (out_wanted - out_pos) * eta_d, 0.0)  # at the wheel
    miss = traction & (out_wanted > out_limit * (1 + 1e-9) + 1e-6)

    # Regeneration: a speed-dependent share of braking, limited by motor power and charge current.
    span = np.maximum(_col(p.regen_full_speed_mps) - _col(p.regen_zero_speed_mps), 1e-9)
    share = _col(p.regen_max_fraction) * np.clip((v_avg - _col(p.regen_zero_speed_mps)) / span, 0.0, 1.0)
    braking = np.where(traction, 0.0, -wheel)  # positive braking power at the wheel
    # The motor may feed the pack what it absorbs at its charge current limit, plus the auxiliary load.
    charge_w = _charge_power_limit_w(voltage, resistance, _col(p.pack_max_charge_current_a)) + aux_col
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
    """One vehicle on one cycle. Arrays are per step (step i ends at time_s[i]); energies in Wh."""

    vehicle_name: str
    cycle: Cycle
    time_s: np.ndarray
    speed_mps: np.ndarray
    dt_s: np.ndarray
    distance_m: np.ndarray        # per step, along the trace
    wheel_power_w: np.ndarray
    motor_power_w: np.ndarray     # shaft; negative while regenerating
    battery_power_w: np.ndarray   # terminal; discharge > 0
    battery_current_a: np.ndarray  # at the (constant) pack open-circuit voltage
    chemical_power_w: np.ndarray  # drawn from the cells, terminal + resistive loss
    soc: np.ndarray               # at the end of each step, starting full
    ledger_wh: dict
    energy_wh_per_km: float       # chemical energy per distance: what empties the pack
    terminal_wh_per_km: float
    range_km: float
    trace_miss_s: float
    trace_miss_steps: int
    shortfall_wh: float
    max_battery_power_kw: float
    usable_energy_wh: float
    # The flattened trace driven back to back to empty, unadjusted: equal to range_km for a plain
    # cycle; for a composite the multi-cycle range before its label rule (what a bench measures).
    trace_range_km: float = math.nan
    miss: np.ndarray | None = None  # per step: the car could not follow the trace
    time_start_s: float = 0.0       # the trace's first sample (steps start there)
    speed_start_mps: float = 0.0
    grade_percent: np.ndarray | None = None  # per trace sample (n steps + 1)

    @property
    def distance_km(self) -> float:
        return float(self.distance_m.sum() / 1000.0)

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

    def summary(self) -> dict:
        return {
            "vehicle": self.vehicle_name,
            "cycle": self.cycle.name,
            "duration_s": round(self.duration_s, 1),
            "distance_km": round(self.distance_km, 3),
            "energy_wh_per_km": round(self.energy_wh_per_km, 2),
            "terminal_energy_wh_per_km": round(self.terminal_wh_per_km, 2),
            "range_km": round(self.range_km, 2),
            "usable_energy_kwh": round(self.usable_energy_wh / 1000.0, 3),
            "trace_miss_s": round(self.trace_miss_s, 1),
            "shortfall_wh": round(self.shortfall_wh, 2),
            "max_battery_power_kw": round(self.max_battery_power_kw, 2),
            "min_battery_power_kw": round(float(self.battery_power_w.min()) / 1000.0, 2),
            "ledger_wh": {k: round(v, 2) for k, v in self.ledger_wh.items()},
        }


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


def _simulate_trace(v: Vehicle, p: VehicleParams, cycle: Cycle) -> tuple[dict, dict]:
    r = run_trace(p, cycle.time_s, cycle.speed_mps, cycle.grade_percent)
    dist_m = r["v_avg_mps"] * r["dt_s"]
    cum_wh = np.cumsum(r["chemical_w"] * r["dt_s"]) * WH_PER_J
    cum_km = np.cumsum(dist_m) / 1000.0
    stats = {
        "dist_m": dist_m, "cum_wh": cum_wh, "cum_km": cum_km,
        "range_km": drive_to_empty_km(cum_wh, cum_km, v.battery.usable_energy_wh),
    }
    return r, stats


def simulate(v: Vehicle, cycle: Cycle) -> SimResult:
    """Run one vehicle on one cycle; for a composite cycle, its parts back to back with the
    composite's range rule (energy per distance weighted, range x factor)."""
    p = params_from_vehicle(v)
    trace = flatten(cycle)
    r, stats = _simulate_trace(v, p, trace)
    km = stats["cum_km"][-1]
    whkm = stats["cum_wh"][-1] / km if km > 0 else math.inf
    range_km = stats["range_km"]
    if cycle.is_composite:
        part_whkm, part_range = [], []
        for part, weight in cycle.parts:
            _, s = _simulate_trace(v, p, part)
            part_whkm.append((weight, s["cum_wh"][-1] / s["cum_km"][-1]))
            part_range.append((weight, s["range_km"]))
        whkm = sum(w * e for w, e in part_whkm)
        # Label rule: unadjusted ranges combined harmonically (on energy per distance), then x factor.
        range_km = cycle.range_factor / sum(w / rng for w, rng in part_range)
    term_wh = float(np.sum(r["terminal_w"] * r["dt_s"]) * WH_PER_J)
    soc = 1.0 - stats["cum_wh"] / p.pack_energy_wh
    return SimResult(
        vehicle_name=v.name, cycle=cycle, time_s=trace.time_s[1:], speed_mps=trace.speed_mps[1:],
        dt_s=r["dt_s"], distance_m=stats["dist_m"], wheel_power_w=r["wheel_w"], motor_power_w=r["motor_out_w"],
        battery_power_w=r["terminal_w"], battery_current_a=r["current_a"], chemical_power_w=r["chemical_w"],
        soc=soc, ledger_wh=_ledger(r), energy_wh_per_km=float(whkm),
        terminal_wh_per_km=term_wh / km if km > 0 else math.inf, range_km=float(range_km),
        trace_miss_s=float(np.sum(r["dt_s"] * r["miss"])), trace_miss_steps=int(np.sum(r["miss"])),
        shortfall_wh=float(np.sum(r["shortfall_w"] * r["dt_s"]) * WH_PER_J),
        max_battery_power_kw=float(r["terminal_w"].max() / 1000.0),
        usable_energy_wh=v.battery.usable_energy_wh,
        trace_range_km=float(stats["range_km"]), miss=np.asarray(r["miss"]).reshape(-1),
        time_start_s=float(trace.time_s[0]), speed_start_mps=float(trace.speed_mps[0]),
        grade_percent=trace.grade_percent,
    )


# Variants per block in a batch: large enough to amortize numpy's per-call overhead, small enough
# that the (variants x steps) temporaries stay in cache (bench/simulate.py measured 16-32 best).
BATCH_BLOCK = 32


def energy_per_km_batch(p: VehicleParams, cycle: Cycle) -> np.ndarray:
    """Chemical Wh/km at the pack for every variant in `p` (1-D array, length p.n_variants).

    For a composite cycle: the weighted energy per distance of its parts, as the label rule does.
    """
    n = p.n_variants
    parts = cycle.parts if cycle.is_composite else ((cycle, 1.0),)
    total = np.zeros(n)
    for start in range(0, n, BATCH_BLOCK):
        stop = min(start + BATCH_BLOCK, n)
        block = _slice_params(p, start, stop)
        for part, weight in parts:
            r = run_trace(block, part.time_s, part.speed_mps, part.grade_percent)
            wh = np.sum(np.atleast_2d(r["chemical_w"]) * r["dt_s"], axis=-1) * WH_PER_J
            total[start:stop] += weight * wh / (part.distance_m / 1000.0)
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
