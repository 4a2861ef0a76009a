"""Official test procedures: which trace a car drives, at which test mass, with which speed cap.

A procedure name (`epa_city`, `epa_highway`, `epa_combined`, `wltp`, `wltc_jp`, `nedc`) is accepted
wherever a cycle name is: `load_cycle` returns a placeholder Cycle carrying the procedure's default
trace (what the optimizer's batch fit drives), and `simulate` resolves it for the car at hand with
`setup_for`. The rules and their sources are in configs/procedures.toml; docs/energy_model.md
("Procedures") explains them.

- Test mass: EPA curb + 300 lb in equivalent-test-weight classes; WLTP and Japan's WLTC mode
  curb + 100 kg + 15 % (passenger) or 28 % (freight) of the remaining load capacity; NEDC unladen +
  100 kg in inertia classes; raw traces curb + 100 kg. A vehicle file's `[load] payload_kg` overrides.
- Trace: WLTP by power-to-mass ratio and maximum speed (class 1, 2, 3a, 3b); Japan class 3a/3b
  whatever the PMR, without the Extra-high phase; EPA and NEDC one trace each.
- Speed cap: GTR 15's capped-speed cycle (Annex 1 9: the trace clipped at the car's maximum speed,
  each phase lengthened at that speed to keep its distance) for WLTP and Japan; R101's maximum
  30-minute speed for NEDC (clipped, distance not restored). EPA has none: a car that cannot follow
  UDDS or HWFET within 2 mi/h has no valid EPA test.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kei.errors import ConfigError
from kei.resources import CONFIG_DIR_ENV, config_file
from kei.schema import read_toml
from kei.units import KMH_PER_MPS
from kei.vehicle.cycles import Cycle, load_trace
from kei.vehicle.files import Vehicle

LB_PER_KG = 1.0 / 0.45359237
# Phase bounds (last second of each phase) of the WLTC traces: UN GTR 15 Annex 1, cycles/README.md.
WLTC_PHASE_ENDS_S = {"wltc_1": (589.0, 1022.0, 1611.0), "wltc_2": (589.0, 1022.0, 1477.0, 1800.0),
                     "wltc_3a": (589.0, 1022.0, 1477.0, 1800.0), "wltc_3b": (589.0, 1022.0, 1477.0, 1800.0)}


@lru_cache(maxsize=4)
def _rules(path: str) -> dict:
    raw = read_toml(path)
    for section in ("raw_trace", "epa", "wltp", "wltc_jp", "nedc"):
        if section not in raw:
            raise ConfigError(path, section, "missing section of the procedures file")
    return raw


def rules() -> dict:
    """configs/procedures.toml, parsed once per lab config folder (KEI_CONFIG_DIR is read each call)."""
    return _rules(_rules_path(os.environ.get(CONFIG_DIR_ENV)))


@lru_cache(maxsize=4)
def _rules_path(config_dir: str | None) -> str:
    return str(config_file("procedures.toml"))


def raw_trace_payload_kg() -> float:
    return float(rules()["raw_trace"]["payload_kg"])


# ---- test mass --------------------------------------------------------------------------------
def epa_test_weight_kg(curb_mass_kg: float) -> float:
    """Equivalent test weight: loaded vehicle weight (curb + 300 lb) rounded to its ETW class."""
    r = rules()["epa"]
    lvw_lb = curb_mass_kg * LB_PER_KG + r["added_lb"]
    etw_lb = r["etw_min_lb"]
    for upper_lb, step_lb in r["etw_step_lb"]:
        # Each class is centred on its ETW: 1,063-1,187 lb -> 1,125 lb (ceil(x / step - 1/2) steps).
        candidate = math.ceil(lvw_lb / step_lb - 0.5) * step_lb
        if candidate <= upper_lb or upper_lb == r["etw_step_lb"][-1][0]:
            etw_lb = min(max(candidate, r["etw_min_lb"]), upper_lb)
            break
    return etw_lb / LB_PER_KG


def max_laden_mass_kg(v: Vehicle, occupant_mass_kg: float) -> float:
    """Technically permissible maximum laden mass: curb + seats x occupant mass + max payload (the
    Japanese spec sheet's gross-mass rule, also the convention where a file gives no gross mass)."""
    return v.body.curb_mass_kg + v.load.seats * occupant_mass_kg + v.load.max_payload_kg


def load_share_test_mass_kg(v: Vehicle, section: str) -> float:
    """GTR 15 / Japan: curb + 100 kg + share x (max laden mass - (curb + 100 kg))."""
    r = rules()[section]
    base = v.body.curb_mass_kg + r["base_payload_kg"]
    share = r["load_share_freight"] if v.load.category == "freight" else r["load_share_passenger"]
    return base + share * max(max_laden_mass_kg(v, r["occupant_mass_kg"]) - base, 0.0)


def nedc_inertia_kg(curb_mass_kg: float) -> float:
    r = rules()["nedc"]
    reference = curb_mass_kg + r["added_kg"]
    for upper_kg, inertia_kg in r["inertia_classes_kg"]:
        if reference <= upper_kg:
            return float(inertia_kg)
    return float(r["inertia_classes_kg"][-1][1])


def test_mass_kg(v: Vehicle, procedure: str) -> tuple[float, str]:
    """(test mass, the rule in words). A file's `[load] payload_kg` overrides every rule."""
    curb = v.body.curb_mass_kg
    if v.load.payload_kg is not None:
        return curb + v.load.payload_kg, f"curb {curb:.0f} kg + payload {v.load.payload_kg:.0f} kg (set in the vehicle file)"
    if procedure.startswith("epa"):
        return epa_test_weight_kg(curb), "EPA equivalent test weight (curb + 300 lb, ETW class)"
    if procedure in ("wltp", "wltc_jp"):
        share = "28 %" if v.load.category == "freight" else "15 %"
        what = "GTR 15" if procedure == "wltp" else "Japanese WLTC"
        return load_share_test_mass_kg(v, procedure), f"{what} test mass (curb + 100 kg + {share} of the remaining load)"
    if procedure == "nedc":
        return nedc_inertia_kg(curb), "NEDC inertia class of the reference mass (unladen + 100 kg)"
    return curb + raw_trace_payload_kg(), f"curb + {raw_trace_payload_kg():.0f} kg (raw trace)"


# ---- the car's speeds -------------------------------------------------------------------------
def steady_wheel_power_w(p, speed_mps: float) -> float:
    """Wheel power holding `speed_mps` on the flat (the energy model's road load; p: VehicleParams)."""
    m, g = float(p.mass_kg), float(p.gravity_m_s2)
    force = (m * g * float(p.rolling_resistance_coefficient) + float(p.road_load_f0_n)
             + float(p.road_load_f1_n_per_mps) * speed_mps
             + 0.5 * float(p.air_density_kg_m3) * float(p.drag_area_m2) * speed_mps**2)
    return force * speed_mps


def _speed_on_power(p, shaft_w: float, upper_mps: float) -> float:
    """Highest steady speed <= upper_mps the shaft power (and the motor's torque) holds."""
    eta = float(p.driveline_efficiency)
    torque_w_per_mps = float(p.motor_peak_torque_nm) * float(p.gear_ratio) / float(p.wheel_radius_m)

    def ok(v):
        return steady_wheel_power_w(p, v) <= eta * min(shaft_w, torque_w_per_mps * v)

    if ok(upper_mps):
        return upper_mps
    lo, hi = 0.0, upper_mps
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def speed_limit_mps(p) -> float:
    """Governed speed and the motor's speed limit, whichever is lower (inf = none)."""
    motor = float(p.motor_max_speed_rpm) * 2 * math.pi / 60.0 / float(p.gear_ratio) * float(p.wheel_radius_m)
    return min(float(p.top_speed_mps), motor)


def max_speed_kmh(p, pack_shaft_limit_w: float = math.inf) -> float:
    """GTR 15's v_max: what the car reaches on peak power, governed and motor-speed limited."""
    upper = min(speed_limit_mps(p), 100.0)
    return _speed_on_power(p, min(float(p.motor_peak_power_w), pack_shaft_limit_w), upper) * KMH_PER_MPS


def max_30_minute_speed_kmh(v: Vehicle, p) -> float:
    """R101's maximum 30-minute speed: what the continuous motor power holds (v_max without one)."""
    if v.motor.continuous_power_kw is None:
        return max_speed_kmh(p)
    upper = min(speed_limit_mps(p), 100.0)
    return _speed_on_power(p, v.motor.continuous_power_kw * 1000.0, upper) * KMH_PER_MPS


# ---- traces -----------------------------------------------------------------------------------
def capped_speed_trace(cycle: Cycle, cap_kmh: float, phase_ends_s: tuple, name: str) -> Cycle:
    """GTR 15 Annex 1 9: the trace clipped at `cap_kmh`; each phase that lost distance holds the cap
    for round(lost distance / cap) extra seconds, inserted where the phase first reaches the cap."""
    cap = cap_kmh / KMH_PER_MPS
    t, v = cycle.time_s, cycle.speed_mps
    if v.max() <= cap:
        return cycle
    capped = np.minimum(v, cap)
    pieces, start = [], 0
    for end_s in phase_ends_s:
        end = int(np.searchsorted(t, end_s, side="right")) - 1
        seg = slice(start, end + 1)
        lost_m = _distance_m(t[seg], v[seg]) - _distance_m(t[seg], capped[seg])
        part = capped[seg] if start == 0 else capped[start + 1:end + 1]
        extra = int(round(lost_m / cap))
        if extra > 0:
            first = int(np.argmax(part >= cap - 1e-12))
            part = np.concatenate([part[:first], np.full(extra, cap), part[first:]])
        pieces.append(part)
        start = end
    speed = np.concatenate(pieces)
    time = np.arange(len(speed), dtype=float)  # the WLTC traces are 1 Hz
    return Cycle(name, time, speed, np.zeros_like(speed), source=cycle.source + "; capped speed per GTR 15 Annex 1 9",
                 description=f"{cycle.name} capped at {cap_kmh:.1f} km/h, phases lengthened to keep their distance")


def clipped_trace(cycle: Cycle, cap_kmh: float, name: str) -> Cycle:
    """R101: the trace at min(trace, cap); the distance is what the car then drives."""
    cap = cap_kmh / KMH_PER_MPS
    if cycle.speed_mps.max() <= cap:
        return cycle
    return Cycle(name, cycle.time_s, np.minimum(cycle.speed_mps, cap), cycle.grade_percent,
                 source=cycle.source + "; maximum 30-minute speed per R101",
                 description=f"{cycle.name} limited to {cap_kmh:.1f} km/h")


def _distance_m(t, v) -> float:
    return float(np.sum(0.5 * (v[1:] + v[:-1]) * np.diff(t)))


def wltc_class(pmr_w_per_kg: float, v_max_kmh: float, section: str = "wltp") -> str:
    """GTR 15 Annex 1 2-3: the class trace name for a power-to-mass ratio and maximum speed."""
    r = rules()["wltp"]
    if section == "wltp" and pmr_w_per_kg <= r["class1_max_pmr_w_per_kg"]:
        return "wltc_1"
    if section == "wltp" and pmr_w_per_kg <= r["class2_max_pmr_w_per_kg"]:
        return "wltc_2"
    return "wltc_3a" if v_max_kmh < rules()[section]["class3b_min_speed_kmh"] else "wltc_3b"


# ---- the set-up of one run ----------------------------------------------------------------------
@dataclass(frozen=True)
class TestSetup:
    """What a car drives for a procedure (or a raw trace) and how its run is judged."""

    procedure: str             # "" for a raw trace or a user CSV
    cycle: Cycle               # the trace(s) to drive: class, cap and compensation applied
    test_mass_kg: float
    mass_rule: str
    trace_rule: str
    speed_tolerance_kmh: float
    time_tolerance_s: float


def setup_for(v: Vehicle, cycle: Cycle) -> TestSetup:
    """Resolve `cycle` (a placeholder for a procedure, or a plain trace) for the car `v`."""
    from kei.vehicle.energy import params_from_vehicle  # energy imports this module

    proc = cycle.procedure
    mass, mass_rule = test_mass_kg(v, proc)
    section = "epa" if proc.startswith("epa") else proc or "raw_trace"
    r = rules()[section]
    tol = (float(r["speed_tolerance_kmh"]), float(r["time_tolerance_s"]))
    if proc in ("wltp", "wltc_jp"):
        pmr = v.motor.peak_power_kw * 1000.0 / v.body.curb_mass_kg
        vmax = max_speed_kmh(params_from_vehicle(v, mass))
        name = wltc_class(pmr, vmax, proc)
        base = load_trace(name)
        ends = WLTC_PHASE_ENDS_S[name]
        if proc == "wltc_jp":
            last = float(r["last_s"])
            base = base.slice_s(0.0, last, f"{name}_jp")
            ends = tuple(e for e in ends if e <= last)
        rule = f"{name} (PMR {pmr:.0f} W/kg, v_max {vmax:.0f} km/h)"
        trace = capped_speed_trace(base, vmax, ends, cycle.name)
        if trace is not base:
            rule += f", capped at {vmax:.1f} km/h (GTR 15 Annex 1 9)"
        trace = Cycle(cycle.name, trace.time_s, trace.speed_mps, trace.grade_percent, source=trace.source,
                      description=rule, procedure=proc)
        return TestSetup(proc, trace, mass, mass_rule, rule, *tol)
    if proc == "nedc":
        v30 = max_30_minute_speed_kmh(v, params_from_vehicle(v, mass))
        trace = clipped_trace(cycle, v30, cycle.name)
        rule = "NEDC" + (f", limited to the 30-minute speed {v30:.1f} km/h (R101)" if trace is not cycle else "")
        trace = Cycle(cycle.name, trace.time_s, trace.speed_mps, trace.grade_percent, source=trace.source,
                      description=rule, procedure=proc)
        return TestSetup(proc, trace, mass, mass_rule, rule, *tol)
    rule = cycle.description or cycle.name
    return TestSetup(proc, cycle, mass, mass_rule, rule, *tol)


# ---- was it a valid test? -------------------------------------------------------------------------
def below_tolerance(time_s: np.ndarray, reference_mps: np.ndarray, driven_mps: np.ndarray,
                    speed_tolerance_kmh: float, time_tolerance_s: float) -> np.ndarray:
    """Per sample: the driven speed is below the trace's lower tolerance band (the lowest trace speed
    within +-time_tolerance_s, minus speed_tolerance_kmh), as a dynamometer driver's aid draws it."""
    lower = reference_mps.copy()
    n = len(time_s)
    for shift in range(1, n):
        ahead = np.abs(time_s[shift:] - time_s[:-shift]) <= time_tolerance_s + 1e-9
        if not ahead.any():
            break
        lower[shift:] = np.where(ahead, np.minimum(lower[shift:], reference_mps[:-shift]), lower[shift:])
        lower[:-shift] = np.where(ahead, np.minimum(lower[:-shift], reference_mps[shift:]), lower[:-shift])
    return driven_mps < lower - speed_tolerance_kmh / KMH_PER_MPS - 1e-9
