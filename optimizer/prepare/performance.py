"""Performance needs as mass limits, exact for each motor x body pair (computed outside the MILP).

Every requirement is monotone in test mass, so for each pair it becomes "test mass <= limit", which
the MILP carries linearly. The physics is the energy model's (same road-load terms, driveline
efficiency, rotating-mass factor, torque and power limits through the gear):

- 0-100 km/h time on peak power: t(M) = integral over v of M k / F_net(v, M) dv (the forward
  integration of M k dv/dt = F_net written in the velocity domain), bisected on M;
- top speed held on the level and a grade held at a speed, on continuous power: closed form;
- following the cycle: every traction step's wheel power within min(peak, torque x speed) x eta_d.

A limit of -inf means the pair can never meet the requirement (e.g. the motor's speed limit is below
the required speed). All arrays are 1-D over pairs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kei.units import KMH_PER_MPS, RAD_S_PER_RPM
from kei.vehicle.cycles import Cycle, flatten


@dataclass(frozen=True)
class Road:
    """Road-load and driveline figures shared by every pair (from configs/model_defaults.toml)."""

    air_density_kg_m3: float
    gravity_m_s2: float
    rotating_mass_factor: float
    driveline_efficiency: float
    wheel_radius_m: float

    @classmethod
    def from_defaults(cls, d: dict) -> "Road":
        return cls(air_density_kg_m3=d["environment"]["air_density_kg_m3"], gravity_m_s2=d["environment"]["gravity_m_s2"],
                   rotating_mass_factor=d["driveline"]["rotating_mass_factor"],
                   driveline_efficiency=d["driveline"]["efficiency"], wheel_radius_m=d["body"]["wheel_radius_m"])


def vehicle_speed_limit_mps(max_speed_rpm, gear_ratio, road: Road) -> np.ndarray:
    """Highest road speed the motor's speed limit allows."""
    return np.asarray(max_speed_rpm) * RAD_S_PER_RPM / np.asarray(gear_ratio) * road.wheel_radius_m


def steady_speed_wheel_power_w(speed_kmh: float, grade_percent: float, drag_area_m2, crr, road: Road):
    """Wheel power holding `speed_kmh` on `grade_percent`, as (aero W, W per kg of test mass): the
    energy model's road load at a constant speed, linear in mass."""
    v = speed_kmh / KMH_PER_MPS
    theta = math.atan(grade_percent / 100.0)
    aero_w = 0.5 * road.air_density_kg_m3 * np.asarray(drag_area_m2) * v**3
    per_kg_w = road.gravity_m_s2 * (math.sin(theta) + np.asarray(crr) * math.cos(theta)) * v
    return aero_w, per_kg_w


def steady_speed_mass_limit(speed_kmh: float, grade_percent: float, power_w, drag_area_m2, crr, max_speed_rpm,
                            gear_ratio, road: Road) -> np.ndarray:
    """Largest test mass that holds `speed_kmh` on `grade_percent` with `power_w` at the motor shaft."""
    v = speed_kmh / KMH_PER_MPS
    aero_w, per_kg_w = steady_speed_wheel_power_w(speed_kmh, grade_percent, drag_area_m2, crr, road)
    limit = (np.asarray(power_w) * road.driveline_efficiency - aero_w) / per_kg_w
    reachable = vehicle_speed_limit_mps(max_speed_rpm, gear_ratio, road) >= v
    return np.where(reachable & (limit > 0), limit, -np.inf)


def accel_time_s(mass_kg, target_kmh: float, power_w, torque_nm, drag_area_m2, crr, gear_ratio, road: Road,
                 speed_points: int) -> np.ndarray:
    """0-to-`target_kmh` time at full traction (inf where the car never gets there)."""
    v_end = target_kmh / KMH_PER_MPS
    dv = v_end / speed_points
    v = (np.arange(speed_points) + 0.5) * dv                                   # midpoints
    col = lambda x: np.asarray(x, dtype=float)[..., None]                       # noqa: E731
    shaft_w = np.minimum(col(power_w), col(torque_nm) * col(gear_ratio) / road.wheel_radius_m * v)
    force_n = shaft_w * road.driveline_efficiency / v
    net_n = force_n - 0.5 * road.air_density_kg_m3 * col(drag_area_m2) * v**2 - col(mass_kg) * road.gravity_m_s2 * col(crr)
    inertia = col(mass_kg) * road.rotating_mass_factor
    with np.errstate(divide="ignore"):
        t = np.where(net_n > 0, inertia / np.where(net_n > 0, net_n, 1.0), np.inf).sum(axis=-1) * dv
    return t


def accel_mass_limit(target_s: float, lo_kg, hi_kg, power_w, torque_nm, max_speed_rpm, drag_area_m2, crr,
                     gear_ratio, road: Road, *, speed_points: int, bisection_steps: int) -> np.ndarray:
    """Largest test mass in [lo_kg, hi_kg] reaching 100 km/h within `target_s`: hi_kg when even that
    makes it, -inf when not even lo_kg does or the motor cannot turn fast enough for 100 km/h.

    t(M) = M k dv sum_v 1 / (G(v) - M g Crr) with G = traction - aero precomputed once per pair, so
    each bisection step costs two array operations."""
    v_end = 100.0 / KMH_PER_MPS
    dv = v_end / speed_points
    v = (np.arange(speed_points) + 0.5) * dv
    col = lambda x: np.asarray(x, dtype=float)[..., None]                       # noqa: E731
    shaft_w = np.minimum(col(power_w), col(torque_nm) * col(gear_ratio) / road.wheel_radius_m * v)
    g_n = shaft_w * road.driveline_efficiency / v - 0.5 * road.air_density_kg_m3 * col(drag_area_m2) * v**2
    b_n = road.gravity_m_s2 * np.asarray(crr, dtype=float)
    g_min = g_n.min(axis=1)
    k = road.rotating_mass_factor * dv

    def makes_it(mass):
        net = g_n - col(mass * b_n)
        ok = g_min > mass * b_n
        with np.errstate(divide="ignore"):
            t = mass * k * (1.0 / np.where(net > 0, net, np.nan)).sum(axis=1)
        return ok & (t <= target_s)

    lo = np.asarray(lo_kg, dtype=float).copy()
    hi = np.asarray(hi_kg, dtype=float).copy()
    ok_hi, ok_lo = makes_it(hi), makes_it(lo)
    for _ in range(bisection_steps):
        mid = 0.5 * (lo + hi)
        ok = makes_it(mid)
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    limit = np.where(ok_hi, hi_kg, lo)
    reachable = vehicle_speed_limit_mps(max_speed_rpm, np.asarray(gear_ratio), road) >= v_end
    return np.where(ok_lo & reachable, limit, -np.inf)


def cycle_mass_limit(cycle: Cycle, power_w, torque_nm, max_speed_rpm, drag_area_m2, crr, gear_ratio, road: Road,
                     governed_speed_kmh: float | None, chunk: int = 1024) -> np.ndarray:
    """Largest test mass with which each pair follows every step of the cycle, as the energy model
    judges it (mean speed per step, road load, power and torque through the gear)."""
    trace = flatten(cycle)
    t, v, grade = trace.time_s, trace.speed_mps, trace.grade_percent
    dt = np.diff(t)
    v0, v1 = v[:-1], v[1:]
    v_avg = 0.5 * (v0 + v1)
    theta = np.arctan(grade[1:] / 100.0)
    g = road.gravity_m_s2
    crr = np.asarray(crr, dtype=float)
    inertia = road.rotating_mass_factor * (v1**2 - v0**2) / (2.0 * dt)
    # Only moving steps can ask for traction; a step can bind through mass only where more mass means
    # more wheel power (for the largest Crr in the set: a superset of every pair's rising steps).
    moving = v_avg > 0
    rising = moving & (inertia + g * crr.max(initial=0.0) * np.cos(theta) * v_avg + g * np.sin(theta) * v_avg > 0)
    falling = moving & ~rising
    out = np.empty(len(crr))
    cols = lambda x, i: np.asarray(x, dtype=float)[i, None]                     # noqa: E731
    for start in range(0, len(crr), chunk):
        i = slice(start, start + chunk)
        limit = np.full(len(crr[i]), np.inf)
        falling_ok = np.ones(len(crr[i]), dtype=bool)
        for steps, is_rising in ((rising, True), (falling, False)):
            va, th = v_avg[steps], theta[steps]
            per_kg = inertia[steps] + g * cols(crr, i) * np.cos(th) * va + g * np.sin(th) * va
            aero = 0.5 * road.air_density_kg_m3 * cols(drag_area_m2, i) * va**3
            wheel_limit = np.minimum(cols(power_w, i), cols(torque_nm, i) * cols(gear_ratio, i) / road.wheel_radius_m * va)
            wheel_limit = wheel_limit * road.driveline_efficiency
            up = per_kg > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                per_step = np.where(up, (wheel_limit - aero) / np.where(up, per_kg, 1.0), np.inf)
            limit = np.minimum(limit, per_step.min(axis=1, initial=np.inf))
            # Steps where mass helps (braking, descending) must still be within the limit at zero mass.
            falling_ok &= np.all(up | (aero <= wheel_limit), axis=1)
        out[i] = np.where(falling_ok & (limit > 0), limit, -np.inf)
    v_max_trace = float(v1.max())
    reachable = vehicle_speed_limit_mps(max_speed_rpm, np.asarray(gear_ratio), road) >= v_max_trace
    if governed_speed_kmh is not None and governed_speed_kmh / KMH_PER_MPS < v_max_trace:
        reachable = np.zeros_like(reachable)
    return np.where(reachable, out, -np.inf)
