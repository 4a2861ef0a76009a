"""Fit the generic defaults of the energy model on the calibration cars (configs/calibration.toml).

    cars = load_calibration()                       # the cars, their official figures
    road = fit_road_load_convention(cars)           # the body convention against the measured coastdowns
    fit = fit_defaults(cars, with_values(defaults, road.values))   # the rest, jointly on every figure
    fit.values, fit.residuals                       # fitted parameters, pred / official - 1 per figure

The fitted parameters are generic (no per-car factor). The road-load convention for cars without a
coastdown (parasitic rolling drag, aero factor on the maker's Cd x A) is fitted on what it stands
for: the measured coastdowns of the cars that have one, their road-load force over the EPA cycles
at their EPA test weight. The rest are fitted jointly on every official figure: auxiliary load, the
regen share of each braking kind, the usable share of packs that publish only a stated energy, and
the light-load efficiency of the motor map. Fitting the convention on energy figures instead lets
it trade parasitic drag for auxiliary load (both cost energy on every cycle), the degeneracy the
calibration exists to break. The charging efficiency that turns the model's DC energy into a label's
AC consumption is a sourced figure, not fitted (it would trade off against the usable share and
auxiliary load). Every figure is a run of its procedure: EPA city (UDDS) and highway (HWFET)
consumption and the label range, WLTP and Japanese WLTC-mode ranges. For speed the finite-difference
Jacobian is one batch run per car and procedure (parameters as variants); `official_vs_model`
re-runs `simulate` for the report.

Both fits are bounded (the literature ranges in FITTED below), so neither can wander off physics to
absorb a bad figure: Levenberg-Marquardt for the joint fit, linear least squares for the convention.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace

import numpy as np

from kei.errors import ConfigError
from kei.resources import config_file
from kei.schema import Field, read_toml, validate_table
from kei.vehicle.cycles import flatten, load_cycle
from kei.vehicle.energy import batch_params, drive_and_run, drive_to_empty_km, params_from_vehicle, simulate
from kei.vehicle.files import load_model_defaults, vehicle_from_dict, vehicle_path
from kei.vehicle.procedures import setup_for

WH_PER_GALLON_EQUIVALENT = 33705.0   # source: EPA, 33.705 kWh per gallon of gasoline equivalent (40 CFR 600.002)
M_PER_MILE = 1609.344
KINDS = ("epa_city_mpge", "epa_highway_mpge", "epa_range_mi", "range_km")
# (section, key, lower, upper): the generic defaults the fit may move, within the literature ranges of
# configs/model_defaults.toml.
FITTED = (
    ("auxiliary", "power_w", 150.0, 600.0),
    ("regen", "cooperative_fraction", 0.75, 0.98),
    ("regen", "blended_fraction", 0.45, 0.85),
    ("road_load", "parasitic_rolling_coefficient", 0.0, 0.003),
    ("road_load", "aero_drag_factor", 0.95, 1.20),
    ("battery", "usable_fraction", 0.88, 0.98),
    ("motor", "low_load_efficiency", 0.80, 0.92),
)
# Fitted on the measured coastdowns (fit_road_load_convention), not on the energy figures.
ROAD_LOAD_KEYS = (("road_load", "parasitic_rolling_coefficient"), ("road_load", "aero_drag_factor"))
JOINT_KEYS = tuple((s, k) for s, k, _, _ in FITTED if (s, k) not in ROAD_LOAD_KEYS)
# The cycles the convention is checked against a coastdown on: the EPA city and highway traces.
ROAD_LOAD_CYCLES = ("udds", "hwfet")
# The motor map below 10 % load keeps FASTSim 2's shape between its zero-load value (fitted) and
# its 10 % value: modern PMSM drive units lose less at light load than FASTSim 2's map says.
LOW_LOAD_SHAPE = (0.0, 0.25, 0.5, 0.75, 0.875, 1.0)   # FASTSim 2: (0.84, 0.86, 0.88, 0.90, 0.91, 0.92)


@dataclass(frozen=True)
class Figure:
    car: str
    kind: str
    official: float
    procedure: str       # the procedure it is a result of


@dataclass(frozen=True)
class CalibrationCar:
    name: str            # the vehicle file's bundled name
    raw: dict            # the parsed vehicle file
    figures: tuple
    source: str
    data: str = ""       # what the car's inputs rest on and what was corrected (docs/validation.md prints it)
    epa_test_weight_lb: float | None = None  # the ETW of the car's EPA Test Car List record, where it has one


# One [[car]] of configs/calibration.toml.
CAR_FIELDS = (
    Field("vehicle", str, "-", "a vehicle file of configs/vehicles/"),
    Field("figures", list, "-", "official figures: [kind, value] or [kind, value, procedure]", default=()),
    Field("source", str, "-", "where the official figures come from", default=""),
    Field("data", str, "-", "what the car's inputs rest on and what was corrected", default=""),
    Field("epa_test_weight_lb", float, "lb", "the equivalent test weight of the car's EPA Test Car List record",
          default=None, min=1.0),
)


def load_calibration(path=None) -> list[CalibrationCar]:
    path = str(path if path is not None else config_file("calibration.toml"))
    raw = read_toml(path)
    cars = []
    for i, table in enumerate(raw.get("car", [])):
        car = validate_table(table, CAR_FIELDS, file=path, where=f"car[{i}]")
        name = car["vehicle"]
        figures = []
        for j, f in enumerate(car["figures"]):
            if f[0] not in KINDS:
                raise ConfigError(path, f"car[{i}].figures[{j}]", f"unknown kind {f[0]!r} (known: {', '.join(KINDS)})")
            proc = f[2] if len(f) > 2 else {"epa_city_mpge": "epa_city", "epa_highway_mpge": "epa_highway",
                                             "epa_range_mi": "epa_combined"}[f[0]]
            figures.append(Figure(name, f[0], float(f[1]), proc))
        cars.append(CalibrationCar(name, read_toml(vehicle_path(name)), tuple(figures), car["source"], car["data"],
                                   car["epa_test_weight_lb"]))
    return cars


def motor_map_values(values: list, low_load_efficiency: float) -> list:
    """The map with its light-load knots (load <= 10 %) set from `low_load_efficiency`."""
    top = values[len(LOW_LOAD_SHAPE) - 1]
    return [round(float(low_load_efficiency + (top - low_load_efficiency) * s), 5) for s in LOW_LOAD_SHAPE] + \
        list(values[len(LOW_LOAD_SHAPE):])


def with_values(defaults: dict, values: dict) -> dict:
    d = copy.deepcopy(defaults)
    for (section, key), value in values.items():
        if (section, key) == ("motor", "low_load_efficiency"):
            d["motor"]["efficiency_values"] = motor_map_values(d["motor"]["efficiency_values"], value)
        else:
            d[section][key] = float(value)
    return d


def current_values(defaults: dict) -> dict:
    out = {}
    for s, k, _, _ in FITTED:
        out[(s, k)] = float(defaults["motor"]["efficiency_values"][0] if k == "low_load_efficiency" else defaults[s][k])
    return out


def mpge(ac_wh_per_km: float) -> float:
    """MPGe from AC Wh/km: label MPGe from label (adjusted) energy, unadjusted from unadjusted."""
    return WH_PER_GALLON_EQUIVALENT / (ac_wh_per_km * M_PER_MILE / 1000.0)


class _CarRuns:
    """One car's procedure runs, set up once; evaluates many parameter sets in one batch each."""

    def __init__(self, car: CalibrationCar, defaults: dict):
        self.car = car
        self.vehicle = vehicle_from_dict(car.raw, file=car.name, defaults=defaults)
        v = self.vehicle
        self.runs = {}
        for proc in sorted({f.procedure for f in car.figures} | ({"epa_city", "epa_highway"} if any(
                f.procedure.startswith("epa") for f in car.figures) else set())):
            if proc == "epa_combined":
                continue  # from the city and highway runs, by the label rule
            setup = setup_for(v, load_cycle(proc))
            self.runs[proc] = (setup, params_from_vehicle(v, setup.test_mass_kg))
        self.own = {"usable_fraction": "usable_fraction" in car.raw.get("battery", {})}
        self.own_map = car.raw.get("motor", {}).get("efficiency_values")

    def figures(self, thetas: list[dict]) -> np.ndarray:
        """Predicted figures (rows: parameter sets, columns: the car's figures)."""
        v = self.vehicle
        n = len(thetas)
        col = lambda key: np.array([t[key] for t in thetas])  # noqa: E731
        braking = v.regen.braking
        share = col(("regen", "cooperative_fraction" if braking == "cooperative" else "blended_fraction"))
        # A car with coastdown coefficients keeps its measured road load: the convention is not its.
        road = {} if v.road_load.coastdown else {
            "drag_area_m2": v.body.drag_coefficient * v.body.frontal_area_m2 * col(("road_load", "aero_drag_factor")),
            "rolling_resistance_coefficient": v.body.rolling_resistance_coefficient
            + col(("road_load", "parasitic_rolling_coefficient"))}
        usable = (np.full(n, v.battery.usable_fraction) if self.own["usable_fraction"]
                  else col(("battery", "usable_fraction")))
        usable_wh = v.battery.energy_kwh * 1000.0 * usable
        whkm, rng = {}, {}
        for proc, (setup, p) in self.runs.items():
            pb = batch_params(p, aux_power_w=col(("auxiliary", "power_w")), regen_max_fraction=share, **road)
            if self.own_map is None:  # the car uses the generic map: the light-load knots follow the fit
                pb = replace(pb, motor_map_efficiencies=tuple(motor_map_values(
                    list(p.motor_map_efficiencies), thetas[0][("motor", "low_load_efficiency")])))
            trace = flatten(setup.cycle)
            _, r = drive_and_run(pb, trace.time_s, trace.speed_mps, trace.grade_percent)
            chem = np.atleast_2d(r["chemical_w"]) * r["dt_s"] / 3600.0
            dist = np.atleast_2d(r["v_avg_mps"]) * r["dt_s"] / 1000.0
            cum_wh, cum_km = np.cumsum(chem, axis=1), np.cumsum(dist, axis=1)
            whkm[proc] = cum_wh[:, -1] / cum_km[:, -1]
            rng[proc] = np.array([drive_to_empty_km(cum_wh[i], cum_km[i], usable_wh[i]) for i in range(n)]) \
                * setup.cycle.range_factor
        ac = v.charging.ac_dc_efficiency
        out = []
        for f in self.car.figures:
            if f.kind == "epa_city_mpge":
                out.append(mpge(whkm["epa_city"] / ac / self.runs["epa_city"][0].cycle.range_factor))
            elif f.kind == "epa_highway_mpge":
                out.append(mpge(whkm["epa_highway"] / ac / self.runs["epa_highway"][0].cycle.range_factor))
            elif f.kind == "epa_range_mi":
                city, hwy = rng["epa_city"], rng["epa_highway"]
                out.append(1.0 / (0.55 / city + 0.45 / hwy) / (M_PER_MILE / 1000.0))
            else:
                out.append(rng[f.procedure])
        return np.array(out).T


@dataclass
class FitResult:
    values: dict                 # (section, key) -> fitted value
    residuals: np.ndarray        # pred / official - 1 per figure, at the fit
    figures: list                # the Figures, in residual order
    iterations: int
    at_bound: list               # parameters that ended on a bound

    @property
    def rms(self) -> float:
        return float(np.sqrt(np.mean(self.residuals**2)))


@dataclass
class RoadLoadFit:
    values: dict                 # (section, key) -> fitted value
    rows: list                   # (car, cycle, coastdown mean force N, convention mean force N)
    at_bound: list

    @property
    def residuals(self) -> np.ndarray:
        return np.array([conv / meas - 1.0 for _, _, meas, conv in self.rows])

    @property
    def rms(self) -> float:
        return float(np.sqrt(np.mean(self.residuals**2))) if self.rows else math.nan


def fit_road_load_convention(cars: list[CalibrationCar], defaults: dict | None = None, *,
                             fit: bool = True) -> RoadLoadFit:
    """The body convention (F = m g (Crr + parasitic) + 1/2 rho Cd A factor v^2) fitted to the measured
    coastdowns of `cars`: least squares on the relative error of the mean road-load force over each
    of ROAD_LOAD_CYCLES (moving steps, weighted by distance), at the car's EPA test mass, each car and
    cycle weighted equally. The convention is linear in (parasitic, factor), so this is a bounded
    linear least squares: unconstrained, else each bound in turn. `fit=False` compares the defaults'
    own factors instead. No coastdown car: the defaults stay."""
    defaults = defaults if defaults is not None else load_model_defaults()
    keys = ROAD_LOAD_KEYS
    configured = np.array([float(defaults[s][k]) for s, k in keys])
    a_rows, rows = [], []
    for car in cars:
        v = vehicle_from_dict(car.raw, file=car.name, defaults=defaults)
        rl = v.road_load
        if not rl.coastdown:
            continue
        mass = setup_for(v, load_cycle("epa_city")).test_mass_kg
        rho, g = v.environment.air_density_kg_m3, v.environment.gravity_m_s2
        for name in ROAD_LOAD_CYCLES:
            c = load_cycle(name)
            va = 0.5 * (c.speed_mps[1:] + c.speed_mps[:-1])
            w = va * np.diff(c.time_s) * (va > 0)      # distance of each moving step
            w = w / w.sum()
            measured = float(np.sum((rl.f0_n + rl.f1_n_per_mps * va + rl.f2_n_per_mps2 * va**2) * w))
            aero = float(np.sum(0.5 * rho * v.body.drag_coefficient * v.body.frontal_area_m2 * va**2 * w))
            a_rows.append((mass * g, aero, mass * g * v.body.rolling_resistance_coefficient))
            rows.append((car.name, name, measured))
    if not rows:
        return RoadLoadFit(dict(zip(keys, map(float, configured))), [], [])
    a = np.array(a_rows)
    m = np.array([meas for _, _, meas in rows])
    # residual = (m g (Crr + p) + aero k) / measured - 1: linear in x = (p, k).
    design = a[:, :2] / m[:, None]
    target = 1.0 - a[:, 2] / m
    bounds = {(s, k): (lo, hi) for s, k, lo, hi in FITTED}
    lo = np.array([bounds[k][0] for k in keys])
    hi = np.array([bounds[k][1] for k in keys])

    def cost(x):
        r = design @ x - target
        return float(r @ r)

    x = configured
    if fit:
        x, *_ = np.linalg.lstsq(design, target, rcond=None)
        if np.any(x < lo) or np.any(x > hi):
            best = None
            for j in range(2):              # one parameter on a bound, the other solved and clipped
                other = 1 - j
                for b in (lo[j], hi[j]):
                    col, rest = design[:, other], target - design[:, j] * b
                    cand = np.empty(2)
                    cand[j], cand[other] = b, float(np.clip(col @ rest / (col @ col), lo[other], hi[other]))
                    if best is None or cost(cand) < cost(best):
                        best = cand
            x = best
    conv = design @ x * m + a[:, 2]
    at_bound = [keys[j] for j in range(2) if np.isclose(x[j], lo[j]) or np.isclose(x[j], hi[j])]
    return RoadLoadFit(dict(zip(keys, map(float, x))),
                       [(car, cyc, meas, float(c)) for (car, cyc, meas), c in zip(rows, conv)], at_bound)


def fit_defaults(cars: list[CalibrationCar], defaults: dict | None = None, *, start: dict | None = None,
                 keys: tuple | None = None, max_iterations: int = 30, progress=None) -> FitResult:
    """Bounded Levenberg-Marquardt on the relative errors of every figure of `cars`. `keys` (default:
    JOINT_KEYS, FITTED less the road-load convention, which fit_road_load_convention fits on the
    coastdowns) are the parameters set free; the others stay at `defaults`."""
    keys = JOINT_KEYS if keys is None else keys
    defaults = defaults if defaults is not None else load_model_defaults()
    runs = [_CarRuns(c, defaults) for c in cars]
    figures = [f for c in cars for f in c.figures]
    official = np.array([f.official for f in figures])
    free = [row for row in FITTED if (row[0], row[1]) in keys]
    held = {k: v for k, v in current_values(defaults).items() if k not in {(s, kk) for s, kk, _, _ in free}}
    keys = [(s, k) for s, k, _, _ in free]
    lo = np.array([b for _, _, b, _ in free])
    hi = np.array([b for _, _, _, b in free])
    x = np.array([(start or current_values(defaults))[k] for k in keys], dtype=float)
    x = np.clip(x, lo, hi)
    scale = hi - lo
    step = 1e-3 * scale

    def evaluate(points: np.ndarray) -> np.ndarray:
        thetas = [{**held, **dict(zip(keys, pt))} for pt in points]
        out = np.empty((len(points), len(official)))
        # The batch shares one motor map: one batch per light-load efficiency.
        for eta0 in sorted({t[("motor", "low_load_efficiency")] for t in thetas}):
            rows = [i for i, t in enumerate(thetas) if t[("motor", "low_load_efficiency")] == eta0]
            sub = [thetas[i] for i in rows]
            out[rows] = np.concatenate([r.figures(sub) for r in runs], axis=1)
        return out / official - 1.0

    lam, it = 1e-2, 0
    res = evaluate(x[None, :])[0]
    cost = float(res @ res)
    for it in range(1, max_iterations + 1):
        h = np.where(x + step <= hi, step, -step)  # a forward difference, backward at an upper bound
        pts = [x] + [np.where(np.arange(len(x)) == j, x + h, x) for j in range(len(x))]
        out = evaluate(np.array(pts))
        res = out[0]
        jac = (out[1:] - res).T / h[None, :]
        jn = jac * scale  # in units of each parameter's range
        grad, hess = jn.T @ res, jn.T @ jn
        improved = False
        for _ in range(8):
            delta = -np.linalg.solve(hess + lam * np.diag(np.diag(hess) + 1e-12), grad) * scale
            trial = np.clip(x + delta, lo, hi)
            r_trial = evaluate(trial[None, :])[0]
            c_trial = float(r_trial @ r_trial)
            if c_trial < cost:
                improved = np.max(np.abs(trial - x) / scale) > 1e-5
                x, res, cost, lam = trial, r_trial, c_trial, max(lam / 3.0, 1e-6)
                break
            lam *= 10.0
        if progress:
            progress(it, math.sqrt(cost / len(res)))
        if not improved:
            break
    at_bound = [keys[j] for j in range(len(x)) if x[j] <= lo[j] + 1e-9 * scale[j] or x[j] >= hi[j] - 1e-9 * scale[j]]
    return FitResult(dict(zip(keys, x)), res, figures, it, at_bound)


def official_vs_model(cars: list[CalibrationCar], defaults: dict) -> list[dict]:
    """Each figure against `simulate` with `defaults` (the real procedure runs, label rules applied)."""
    rows = []
    for car in cars:
        v = vehicle_from_dict(car.raw, file=car.name, defaults=defaults)
        sims = {}
        for f in car.figures:
            if f.procedure not in sims:
                sims[f.procedure] = simulate(v, load_cycle(f.procedure))
            r = sims[f.procedure]
            if f.kind in ("epa_city_mpge", "epa_highway_mpge"):
                model = mpge(r.ac_energy_wh_per_km / r.cycle.range_factor)
                band = (mpge(r.band["ac_energy_wh_per_km_p95"] / r.cycle.range_factor),
                        mpge(r.band["ac_energy_wh_per_km_p05"] / r.cycle.range_factor))
            elif f.kind == "epa_range_mi":
                model = r.range_km * 1000.0 / M_PER_MILE
                band = (r.band["range_km_p05"] * 1000.0 / M_PER_MILE, r.band["range_km_p95"] * 1000.0 / M_PER_MILE)
            else:
                model, band = r.range_km, (r.band["range_km_p05"], r.band["range_km_p95"])
            rows.append({"car": car.name, "vehicle": v.name, "kind": f.kind, "procedure": f.procedure,
                         "official": f.official, "model": model, "error": model / f.official - 1.0, "band": band,
                         "valid_test": r.valid_test, "trace": r.trace_rule, "test_mass_kg": r.test_mass_kg,
                         "energy_wh_per_km": r.energy_wh_per_km})
    return rows
