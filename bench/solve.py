"""Benchmark of `kei solve`: solve time of the bundled problems and of catalogs scaled up x4, x16 and
x40 (design spaces from ~1.7e7 to ~1.3e12 combinations, as ModelData.design_space_size counts them, so
content options count once the model has them), against exhaustive enumeration of the same model on
every size where enumeration still finishes, its time extrapolated beyond, as speed ratios measured in
the same run.

    python3 bench/solve.py                 # tens of minutes on 2 cores (x40 dominates)
    python3 bench/solve.py --scales 1,4    # a quick look; --quick extrapolates enumeration above 10 s

Scaled catalogs are plausible variants of the real parts (configs/catalog/): every cell, drive unit
and body gets k-1 siblings with capacity, power, mass, drag and volume perturbed the way real model
ranges differ (+-5..25 %), ids suffixed `_v1`.. (seeded, so every run solves the same). A sibling is
made where its parent is: it keeps the parent's origin (so its duties and, for drive units and cells,
the origin's cost index in its cost) and its cost per kWh, per kW or per kg within +-10 % of the
parent's (product variation, not another country's cost level).
Timings: cold = first solve in the process (energy-model fits included), warm = the same solve again
(fits cached, as for --top K, corrections and explanations within a run). Enumeration is timed cold
too (the same screens, performance limits and fits, then every combination with numpy); where it
would take too long, its rate on the first motors is measured and the full time extrapolated (*).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing, like the tests

from kei.errors import InfeasibleError, SolverError  # noqa: E402
from kei.optimizer.inputs.catalog import load_catalog  # noqa: E402
from kei.optimizer.inputs.parts import Catalog  # noqa: E402
from kei.optimizer.inputs.problem import load_problem  # noqa: E402
from kei.optimizer.prepare.model_data import clear_fit_cache, prepare  # noqa: E402
from kei.optimizer.solving.brute_force import enumerate_designs  # noqa: E402
from kei.optimizer.solving.pipeline import solve  # noqa: E402
from kei.optimizer.solving.solver import load_solver_settings  # noqa: E402
from kei.vehicle.cycles import load_cycle  # noqa: E402
from kei.vehicle.files import load_model_defaults  # noqa: E402

PROBLEMS = sorted((ROOT / "configs" / "problems").glob("*.toml"))
SCALED_PROBLEMS = tuple(p.stem for p in PROBLEMS)
AIM_DEFAULT_S = 1.0          # issue 3: default problems under 1 s
ENUMERATE_LIMIT_S = 120.0    # run enumeration in full below this predicted time, else extrapolate
SCALES = (1, 4, 16, 40)      # x40: the bundled problems' design space passes 1e12 (issue 11)


def scaled(cat: Catalog, k: int, seed: int = 0) -> Catalog:
    """`cat` with every part joined by k-1 perturbed siblings."""
    if k == 1:
        return cat
    rng = np.random.default_rng(seed)
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    cells, motors, bodies = list(cat.cells), list(cat.motors), list(cat.bodies)
    for i in range(1, k):
        for c in cat.cells:
            size = u(0.8, 1.25)
            cells.append(dataclasses.replace(
                c, id=f"{c.id}_v{i}", capacity_ah=c.capacity_ah * size, mass_kg=c.mass_kg * size * u(0.95, 1.05),
                volume_l=c.volume_l * size * u(0.95, 1.05), internal_resistance_mohm=c.internal_resistance_mohm / size,
                max_discharge_c=c.max_discharge_c * (rate := u(0.8, 1.2)), peak_discharge_c=c.peak_discharge_c * rate,
                max_charge_c=c.max_charge_c * u(0.8, 1.2),
                cost_usd_per_kwh=c.cost_usd_per_kwh * u(0.9, 1.1)))
        for m in cat.motors:
            size = u(0.85, 1.15)
            motors.append(dataclasses.replace(
                m, id=f"{m.id}_v{i}", peak_power_kw=m.peak_power_kw * size,
                continuous_power_kw=m.continuous_power_kw * size, peak_torque_nm=m.peak_torque_nm * size,
                peak_efficiency=min(0.97, m.peak_efficiency + u(-0.01, 0.01)), mass_kg=m.mass_kg * size * u(0.95, 1.05),
                cost_usd=m.cost_usd * size * u(0.9, 1.1)))
        for b in cat.bodies:
            bodies.append(dataclasses.replace(
                b, id=f"{b.id}_v{i}", glider_mass_kg=b.glider_mass_kg * u(0.95, 1.05),
                drag_coefficient=b.drag_coefficient * u(0.93, 1.07), battery_volume_l=b.battery_volume_l * u(0.85, 1.2),
                cost_usd=b.cost_usd * u(0.9, 1.1)))
    return dataclasses.replace(cat, cells=tuple(cells), motors=tuple(motors), bodies=tuple(bodies),
                               source=f"{cat.source} x{k}")


def timed_solve(problem, catalog, verify: bool = True):
    """(cold seconds, warm seconds, solution or the InfeasibleError). `verify=False`: the MILP alone
    on the linear model (no simulation, no certificate loop), the model the enumeration searches."""
    clear_fit_cache()
    t = time.perf_counter()
    try:
        result = solve(problem, catalog=catalog, verify=verify)
    except (InfeasibleError, SolverError) as err:   # SolverError: a MILP hit configs/solver.toml's time limit
        result = err
    cold = time.perf_counter() - t
    if isinstance(result, SolverError):
        return cold, float("nan"), result   # no warm run after a time limit: it would hit it again
    t = time.perf_counter()
    try:
        solve(problem, catalog=catalog, verify=verify)
    except (InfeasibleError, SolverError):
        pass
    return cold, time.perf_counter() - t, result


def timed_enumeration(problem, catalog, quick: bool):
    """(seconds, combinations, best value, estimated?, design space) of exhaustive enumeration of the
    same model, cold like the MILP's timing: the model data (screens, performance limits, energy fits)
    included; the linear model without corrections, as the MILP without verification. The design space is the model
    data's own count (ModelData.design_space_size: every discrete choice the catalog and the problem's
    options offer), None if the screens leave nothing."""
    clear_fit_cache()
    t = time.perf_counter()
    try:
        d = prepare(catalog, problem, load_cycle(problem.cycle), load_model_defaults(), load_solver_settings(),
                    price_screen=False)
    except InfeasibleError:
        return time.perf_counter() - t, 0, None, False, None
    prep_s = time.perf_counter() - t
    probe_motors = min(2, len(d.motors))
    probe = enumerate_designs(dataclasses.replace(d, motors=d.motors[:probe_motors]))  # rate on a sample
    predicted = prep_s + probe.seconds / probe_motors * len(d.motors)
    if predicted > ENUMERATE_LIMIT_S or (quick and predicted > 10):
        return predicted, probe.combinations // probe_motors * len(d.motors), None, True, d.design_space_size
    full = enumerate_designs(d)
    return (prep_s + full.seconds, full.combinations, (full.best[0].value if full.best else None), False,
            d.design_space_size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="extrapolate enumeration above 10 s")
    parser.add_argument("--scales", default=",".join(map(str, SCALES)),
                        help=f"catalog scales to run, comma-separated (default {','.join(map(str, SCALES))})")
    args = parser.parse_args()
    scales = [int(k) for k in args.scales.split(",")]
    base = load_catalog(ROOT / "configs" / "catalog")
    print("kei solve benchmark (1 thread; cold = fits included, warm = fits cached)\n")
    print(f"{'problem':<16}{'catalog':>8}{'design space':>14}{'pairs':>7}{'cold s':>8}{'warm s':>8}"
          f"{'MILPs':>6}  result")
    worst_default = 0.0
    for path in PROBLEMS:
        problem = load_problem(path)
        cold, warm, res = timed_solve(problem, base)
        worst_default = max(worst_default, cold)
        print(_row(problem.name, 1, res, cold, warm))
    print(f"\ndefault problems: slowest {worst_default:.2f} s (aim < {AIM_DEFAULT_S:g} s: "
          f"{'met' if worst_default < AIM_DEFAULT_S else 'NOT met'})\n")

    print(f"{'problem':<16}{'catalog':>8}{'design space':>14}{'enumerated':>12}{'pairs':>7}{'MILP cold':>10}"
          f"{'warm':>7}{'enum s':>10}{'enum/cold':>10}{'enum/warm':>10}  agree")
    largest = []
    for k in scales:
        catalog = scaled(base, k)
        for name in SCALED_PROBLEMS:
            problem = load_problem(ROOT / "configs" / "problems" / f"{name}.toml")
            cold, warm, res = timed_solve(problem, catalog, verify=False)
            enum_s, combos, best, estimated, space = timed_enumeration(problem, catalog, args.quick)
            if space is None:
                space = 0 if isinstance(res, InfeasibleError) else res.data.design_space_size
            if space >= 1e12:
                largest.append(cold)
            if isinstance(res, SolverError):
                print(f"{name:<16}{'x' + str(k):>8}{space:>14.2e}{combos:>12.2e}{'-':>7}{cold:>10.2f}{warm:>7.2f}"
                      f"{enum_s:>9.1f}{'*' if estimated else ' '}{enum_s / cold:>10.1f}{enum_s / warm:>10.1f}  "
                      f"MILP not solved: {res}", flush=True)
                continue
            value = None if isinstance(res, InfeasibleError) else (
                res.best.range_km if problem.objective == "max_range" else res.best.price_usd)
            if value is None and best is None and not estimated:
                agree = "yes (both infeasible)"
            else:
                agree = "-" if best is None or value is None else (
                    "yes" if abs(value / best - 1) < 1e-6 else f"NO ({value:.6g} vs {best:.6g})")
            pairs = "-" if isinstance(res, InfeasibleError) else res.data.n_pairs
            print(f"{name:<16}{'x' + str(k):>8}{space:>14.2e}{combos:>12.2e}{pairs:>7}{cold:>10.2f}{warm:>7.2f}"
                  f"{enum_s:>9.1f}{'*' if estimated else ' '}{enum_s / cold:>10.1f}{enum_s / warm:>10.1f}  {agree}",
                  flush=True)
    if largest:
        print(f"\n1e12+ combinations: slowest MILP {max(largest):.2f} s cold")
    print("* enumeration time extrapolated from its rate on the first two motors' pairs (it would exceed "
          f"{ENUMERATE_LIMIT_S:g} s)\n"
          "enumerated: combinations of the parts within the class limits (pairs failing a performance need\n"
          "are skipped whole); design space: ModelData.design_space_size of the whole scaled catalog\n"
          "MILP cold: kei solve without verification (fits, build, Dinkelbach or one MILP; for an infeasible\n"
          "problem the explanation), the linear model the enumeration searches; warm: the same again, fits\n"
          "cached; enum s: model data + exhaustive enumeration, same run; enum/cold, enum/warm: how many\n"
          "times faster the MILP is. The first table is the whole pipeline (simulation, certificate loop).")
    return 0


def _row(name, k, res, cold, warm) -> str:
    if isinstance(res, SolverError):
        return f"{name:<16}{'x' + str(k):>8}{'':>14}{'-':>7}{cold:>8.2f}{warm:>8.2f}{'-':>6}  not solved: {res}"
    if isinstance(res, InfeasibleError):
        return f"{name:<16}{'x' + str(k):>8}{'':>14}{'-':>7}{cold:>8.2f}{warm:>8.2f}{'-':>6}  infeasible: {res.explanation[:70]}"
    x = res.best
    value = f"{x.range_km:.1f} km" if res.problem.objective == "max_range" else f"${x.price_usd:,.0f}"
    return (f"{name:<16}{'x' + str(k):>8}{res.data.design_space_size:>14.2e}{res.data.n_pairs:>7}{cold:>8.2f}"
            f"{warm:>8.2f}{res.milps:>6}  {value}, {x.cell.id} {x.series}s{x.parallel}p, {x.motor.id}, {x.body.id}")


if __name__ == "__main__":
    sys.exit(main())
