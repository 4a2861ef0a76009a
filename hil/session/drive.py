"""The car the bench drives: per-step battery demand from the energy model, and what the car does
when the BMS allows less.

`DriveProfile` takes from the energy model's one run (`kei.vehicle.predict`) the terminal power each
step needs while the car follows the trace. `Car.plan` is the per-step forward-facing fallback: when the BMS's limit (from telemetry) is below that demand, or the car has
already fallen behind the trace, it finds the highest end-of-step speed the allowed power reaches
(the same backward model evaluated on a grid of candidate speeds, refined once), so the car falls
behind the trace and only the distance actually driven counts. Everything is a pure function of
(step, start speed, limits): a resumed session recomputes exactly the same plan.

Signs: power and current positive on discharge; speeds in m/s; powers at the pack terminals in W.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kei.units import KMH_PER_MPS
from kei.vehicle.energy import VehicleParams, run_trace
from kei.vehicle.predict import Prediction

# Candidate end speeds per refinement pass of the fallback: 2 passes of 33 resolve the speed to
# 1/1024 of the trace speed (0.03 m/s at 30 m/s), in two vectorized model calls.
CANDIDATES = 33


@dataclass(frozen=True, eq=False)
class DriveProfile:
    """One repetition of the (flattened) cycle as steps 0..n-1, from the energy model's one run
    (`prediction`); step i runs from trace sample i to i+1."""

    prediction: Prediction
    # Plain-float copies for the per-step hot loop (numpy scalar access is ~10x slower).
    dt_list: list
    speed_start_list: list
    speed_end_list: list
    grade_start_list: list
    grade_end_list: list
    demand_list: list    # terminal power on the trace (incl. auxiliaries), discharge > 0
    distance_list: list  # on the trace

    @property
    def cycle_name(self) -> str:
        return self.prediction.cycle.name

    @property
    def steps(self) -> int:
        return self.prediction.steps

    @property
    def duration_s(self) -> float:
        return float(self.prediction.dt_s.sum())

    @property
    def distance_km(self) -> float:
        return float(self.prediction.distance_m.sum() / 1000.0)


def build_profile(prediction: Prediction) -> DriveProfile:
    p = prediction
    return DriveProfile(
        prediction=p, dt_list=p.dt_s.astype(float).tolist(), speed_start_list=p.speed_start_mps.astype(float).tolist(),
        speed_end_list=p.speed_end_mps.astype(float).tolist(), grade_start_list=p.grade_start_percent.astype(float).tolist(),
        grade_end_list=p.grade_end_percent.astype(float).tolist(), demand_list=p.terminal_w.astype(float).tolist(),
        distance_list=p.distance_m.astype(float).tolist(),
    )


def terminal_power_limits_w(voltage_v: float, current_a: float, allowed_discharge_a: float,
                            allowed_charge_a: float, resistance_ohm: float, margin: float) -> tuple[float, float]:
    """(most discharge power, most charge power as a negative number) at the pack terminals within
    `margin` x the BMS's allowed currents. The pack is a source E - I R, E estimated from one
    telemetry sample (E = V + I R)."""
    r = max(resistance_ohm, 1e-9)
    e = voltage_v + current_a * r
    i_dis = max(0.0, margin * allowed_discharge_a)
    i_dis = min(i_dis, e / (2.0 * r))  # beyond E / 2R more current gives less power
    i_chg = max(0.0, margin * allowed_charge_a)
    return i_dis * (e - i_dis * r), -i_chg * (e + i_chg * r)


@dataclass(frozen=True)
class StepLimits:
    """What one telemetry allows the steps planned with it: terminal powers (W), and whether the
    pack is near its limits (nearly empty, or the BMS derating), where the host closes its loop."""

    p_max_w: float
    p_min_w: float
    close_loop: bool


def limits_from_telemetry(t, resistance_ohm: float, margin: float, max_discharge_a: float,
                          derating_fraction: float, close_loop_soc: float) -> StepLimits:
    p_max, p_min = terminal_power_limits_w(t.pack_voltage_v, t.pack_current_a, t.allowed_discharge_a,
                                           t.allowed_charge_a, resistance_ohm, margin)
    near = t.soc_estimate < close_loop_soc or t.allowed_discharge_a < derating_fraction * max_discharge_a
    return StepLimits(p_max, p_min, near)


@dataclass(frozen=True)
class StepPlan:
    """What the host sends for one step and what the car does."""

    demand_w: float      # terminal power sent to the BMS (discharge > 0)
    speed_end_mps: float
    distance_m: float
    limited: bool        # the BMS limit changed the step (car slower than the trace, or regen cut)


class Car:
    """The forward-facing fallback around a DriveProfile."""

    def __init__(self, profile: DriveProfile):
        self.params: VehicleParams = profile.prediction.params
        self.profile = profile
        self.resistance_ohm = float(profile.prediction.vehicle.battery.resistance_ohm)

    def cruise_power_w(self, speed_kmh: float) -> float:
        """Terminal power to hold `speed_kmh` on the flat (incl. auxiliaries)."""
        v = speed_kmh / KMH_PER_MPS
        r = run_trace(self.params, np.array([0.0, 1.0]), np.array([v, v]), np.zeros(2))
        return float(np.asarray(r["terminal_w"]).reshape(-1)[0])

    def plan(self, i: int, speed_start_mps: float, p_max_w: float, p_min_w: float) -> StepPlan:
        """Step `i` of the cycle from `speed_start_mps`, within terminal powers [p_min_w, p_max_w]."""
        prof = self.profile
        target = prof.speed_end_list[i]
        if speed_start_mps == prof.speed_start_list[i]:  # on the trace: the precomputed step
            demand = prof.demand_list[i]
            if demand <= p_max_w:
                if demand >= p_min_w:
                    return StepPlan(demand, target, prof.distance_list[i], False)
                return StepPlan(p_min_w, target, prof.distance_list[i], True)  # friction brakes take the rest
        dt = prof.dt_list[i]
        grades = (prof.grade_start_list[i], prof.grade_end_list[i])
        power, wheel = self._powers(speed_start_mps, np.array([target]), dt, grades)
        if power[0] <= p_max_w:
            v1, p1 = target, float(power[0])
        else:
            v1, p1 = self._fastest_within(speed_start_mps, target, dt, grades, p_max_w)
        limited = v1 < target or p1 < p_min_w
        return StepPlan(min(max(p1, p_min_w), p_max_w), v1, 0.5 * (speed_start_mps + v1) * dt, limited)

    def _powers(self, v0: float, v1: np.ndarray, dt: float, grades: tuple[float, float]):
        """Terminal and wheel power (W) of one step from v0 to each candidate end speed in v1."""
        speeds = np.vstack([np.full(v1.shape, v0), v1])  # run_trace broadcasts: one step, many variants
        r = run_trace(self.params, np.array([0.0, dt]), speeds, np.array(grades))
        return np.asarray(r["terminal_w"]).reshape(-1), np.asarray(r["wheel_w"]).reshape(-1)

    def _fastest_within(self, v0: float, target: float, dt: float, grades, p_max_w: float) -> tuple[float, float]:
        lo, hi = 0.0, target
        best_v, best_p = None, None
        for _ in range(2):
            cand = np.linspace(lo, hi, CANDIDATES)
            power, wheel = self._powers(v0, cand, dt, grades)
            ok = np.nonzero(power <= p_max_w)[0]
            if len(ok) == 0:
                break
            j = int(ok[-1])
            best_v, best_p = float(cand[j]), float(power[j])
            if j == CANDIDATES - 1:
                break
            lo, hi = cand[j], cand[j + 1]
        if best_v is not None:
            return best_v, best_p
        # Not even braking stays within the limit (it is below the auxiliaries' draw): the car
        # coasts, i.e. the fastest end speed that needs no traction.
        cand = np.linspace(0.0, target, CANDIDATES)
        power, wheel = self._powers(v0, cand, dt, grades)
        coast = np.nonzero(wheel <= 0.0)[0]
        j = int(coast[-1]) if len(coast) else 0
        return float(cand[j]), float(power[j])
