"""Why a problem has no solution, in numbers: never a bare "infeasible".

Called when the MILP of a problem is infeasible. The requirements are relaxed one group at a time,
cheapest question first, and the answer says which ones conflict and by how much:

1. price: the cheapest car meeting everything but the price cap (and the range) -> "the cheapest car
   that meets the rest costs $17,240 against the $15,000 cap";
2. range: the best range at the cap, and what the required range would cost without it -> "the best
   range at $15,000 is 96 km against 120 required; 120 km takes $17,900";
3. physics: if even 1 fails, an elastic MILP lets the pack's voltage window, its peak and continuous
   power, its volume, the performance mass limits and the class's mass limits be violated at a
   weighted cost, and reports the smallest violation: "the closest design needs 12 L more battery
   space than body X has".

Part-level conflicts (no body within kei width, no motor under the power cap, no pair quick enough)
are explained earlier, by the screens in model/data.py.
"""
from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo

from kei.errors import InfeasibleError
from kei.optimizer.answers.design import Design, decode, evaluate
from kei.optimizer.inputs.pack_layout import parallel_limits
from kei.optimizer.milp import build_model
from kei.optimizer.milp.objective import SLACK_GROUPS, select_objective
from kei.optimizer.prepare.model_data import ModelData, prepare
from kei.optimizer.solving.ratio import maximize_ratio
from kei.optimizer.solving.solver import Solver, Status

SLACK_TEXT = {
    "voltage_v": ("V", "outside the motor's DC voltage window"),
    "pack_peak_power_w": ("kW", "short of the power the motor draws at peak (pack at its cells' pulse rate)"),
    "pack_continuous_power_w": ("kW", "short of the continuous power holding top speed or the grade draws "
                                "(pack at its cells' continuous rate)"),
    "pack_volume_l": ("L", "more battery volume than the body has (its battery_volume_l in bodies.toml, an estimate: "
                      "a model bound, not physics)"),
    "performance_kg": ("kg", "over the test mass the performance needs allow"),
    "mass_kg": ("kg", "over the class's mass limit"),
}


def explain(problem, catalog, cycle, defaults, settings, *, extend=None) -> InfeasibleError:
    """The explanation as an InfeasibleError (returned, for the caller to raise). `extend` is the
    user's hook: the problem is first asked without it; if it is feasible so, the user's constraints
    are what conflicts, and each is dropped in turn to name the one(s) that make it infeasible."""
    if extend is None:
        return _explain(problem, catalog, cycle, defaults, settings, None)
    try:
        plain = prepare(catalog, problem, cycle, defaults, settings)
    except InfeasibleError:
        plain = None
    found = _best(plain, "min_price", settings) if plain is not None and plain.n_pairs and len(plain.layout_cell) else None
    if found is None:
        error = _explain(problem, catalog, cycle, defaults, settings, None)
        return InfeasibleError(error.explanation + " (infeasible without the constraints added by extend= too)",
                               {**error.details, "user_constraints": True, "feasible_without_user_constraints": False})
    return _explain_user(plain, found, settings, extend)


def _explain_user(d: ModelData, found: Design, settings, extend) -> InfeasibleError:
    """The problem has designs without the user's constraints: which of them makes it infeasible."""
    m = build_model(d, "min_price")
    before = {c.name for c in m.component_objects(descend_into=True)}
    extend(m, d)
    names = [c.name for c in m.component_objects(pyo.Constraint, descend_into=True) if c.name not in before]
    details = {"stage": "user_constraints", "user_constraints": True, "feasible_without_user_constraints": True,
               "design_without_user_constraints": _parts(found), "user_constraint_names": names}
    text = (f"the problem is feasible without the constraints added by extend= ({_parts(found)}, "
            f"${found.price_usd:,.0f}); ")
    culprits = {}
    for name in names:
        component = m.find_component(name)
        component.deactivate()
        res = Solver(m, settings).solve()
        component.activate()
        if res.status is Status.OPTIMAL:
            culprits[name] = evaluate(d, decode(m, d))
    details["user_constraint_conflict"] = list(culprits)
    if len(culprits) == 1:
        name, x = next(iter(culprits.items()))
        text += f"the user constraint {name!r} makes it infeasible (dropping it alone restores a design"
        text += ")" if _parts(x) == _parts(found) else f": {_parts(x)}, ${x.price_usd:,.0f})"
    elif culprits:
        text += ("each of the user constraints " + ", ".join(repr(n) for n in culprits) + " makes it infeasible "
                 "(without any one of them a design exists)")
    elif names:
        text += ("no single user constraint is to blame: " + ", ".join(repr(n) for n in names)
                 + " conflict together (dropping any one alone leaves the problem infeasible)")
    else:
        text += "the hook added no constraint, so a variable or bound it changed makes it infeasible"
    return InfeasibleError(text, details)


def _explain(problem, catalog, cycle, defaults, settings, extend) -> InfeasibleError:
    base = prepare(catalog, problem, cycle, defaults, settings, price_cap_usd=math.inf, min_range_km=0,
                   price_screen=False, energy=False)
    if base.n_pairs == 0 or len(base.layout_cell) == 0:
        largest = max(base.bodies, key=lambda b: b.battery_volume_l) if base.bodies else None
        space = (f" (the largest, body {largest.id}'s {largest.battery_volume_l:g} L, is battery_volume_l in "
                 f"bodies.toml, an estimate: a model bound, not physics)") if largest is not None else ""
        return InfeasibleError("no battery layout fits: for every cell, the series counts inside a motor's voltage "
                               "window that deliver its power need a pack larger than any body's battery space" + space,
                               {"stage": "layouts", "model_bounds": ["battery_volume_l"]})
    cheapest = _best(base, "min_price", settings, extend)
    if cheapest is None:
        return _elastic(base, settings, extend)
    cap = problem.price_cap_usd
    details = {"stage": "requirements", "cheapest_price_usd": cheapest.price_usd,
               "cheapest_design": _parts(cheapest), "cheapest_parts": part_ids(cheapest), "price_cap_usd": cap}
    low, high = problem.price.price_band_usd(cheapest.price_usd)
    details.update(cheapest_price_band_usd=[low, high], cheapest_site=cheapest.site)
    if cheapest.price_usd > cap * (1 + 1e-9):
        return InfeasibleError(
            f"the cheapest car that meets the rest costs ${cheapest.price_usd:,.0f} against the ${cap:,.0f} cap "
            f"(${cheapest.price_usd - cap:,.0f} over; floor ${cheapest.price_usd:,.0f}, ${low:,.0f}-${high:,.0f} with "
            f"the calibration's residuals): {_parts(cheapest)}", details)
    r_min = problem.min_range_km
    if r_min is None:
        return InfeasibleError(f"no design found although the cheapest ({_parts(cheapest)}, "
                               f"${cheapest.price_usd:,.0f}) is under the cap", details)
    capped = prepare(catalog, problem, cycle, defaults, settings, min_range_km=0)
    best = _best(capped, "max_range", settings, extend) if capped.n_pairs and len(capped.layout_cell) else None
    best_km = best.range_km if best is not None else 0.0
    text = f"the best range at ${cap:,.0f} is {best_km:.0f} km against {r_min:g} km required"
    details.update(best_range_at_cap_km=best_km, min_range_km=r_min)
    uncapped = prepare(catalog, problem, cycle, defaults, settings, price_cap_usd=math.inf, price_screen=False)
    needed = _best(uncapped, "min_price", settings, extend)
    if needed is not None:
        text += f"; {r_min:g} km takes ${needed.price_usd:,.0f} ({_parts(needed)})"
        details["price_for_min_range_usd"] = needed.price_usd
    else:
        longest_data = prepare(catalog, problem, cycle, defaults, settings, price_cap_usd=math.inf, min_range_km=0,
                               price_screen=False)
        longest = _best(longest_data, "max_range", settings, extend)
        if longest is not None:
            text += f"; no design reaches {r_min:g} km at any price (the longest reaches {longest.range_km:.0f} km"
            bounds = model_bounds(longest_data, longest)
            if bounds:
                text += "; it stops at a model bound, not at physics: " + "; and ".join(b["text"] for b in bounds)
            text += ")"
            details["longest_range_km"] = longest.range_km
            details["longest_design"] = _parts(longest)
            details["longest_model_bounds"] = [b["name"] for b in bounds]
        else:
            text += f"; no design reaches {r_min:g} km at any price"
    return InfeasibleError(text, details)


def _best(d: ModelData, objective: str, settings, extend=None) -> Design | None:
    m = build_model(d, objective)
    if extend is not None:
        extend(m, d)
    solver = Solver(m, settings)
    if objective == "max_range":
        d_min = float(np.min(d.fit.intercept_wh_per_km + d.fit.slope_wh_per_km_per_kg * d.pair_mass_lo_kg))
        if maximize_ratio(m, solver, settings, d_min=d_min).status is Status.INFEASIBLE:
            return None
    elif solver.solve().status is not Status.OPTIMAL:
        return None
    return evaluate(d, decode(m, d))


def _elastic(d: ModelData, settings, extend=None) -> InfeasibleError:
    """Smallest weighted violation of the physical constraint groups; weights make 1 unit of each
    group comparable (a typical motor voltage, pack power, body volume, test mass)."""
    m = build_model(d, "min_slack")
    if extend is not None:
        extend(m, d)
    power_scale = float(np.mean(d.motor_pack_power_w))
    scales = {"voltage_v": float(np.mean(d.motor_vmax_v)), "pack_peak_power_w": power_scale,
              "pack_continuous_power_w": power_scale,
              "pack_volume_l": float(np.mean(d.body_volume_l)), "performance_kg": float(np.mean(d.pair_mass_lo_kg)),
              "mass_kg": float(np.mean(d.pair_mass_lo_kg))}
    for g in SLACK_GROUPS:
        m.slack[g].setub(None)
        m.slack_weight[g].set_value(1.0 / scales[g])
    select_objective(m, "min_slack")
    res = Solver(m, settings).solve()
    if res.status is not Status.OPTIMAL:
        return InfeasibleError("no design exists even with the pack, performance and mass limits relaxed",
                               {"stage": "elastic"})
    design = evaluate(d, decode(m, d))
    parts = []
    details = {"stage": "elastic", "closest_design": _parts(design)}
    for g in SLACK_GROUPS:
        value = float(m.slack[g].value or 0.0)
        if value > 1e-6 * scales[g]:
            unit, text = SLACK_TEXT[g]
            shown = value / 1000 if unit == "kW" else value
            parts.append(f"{shown:.1f} {unit} {text}")
            details[g] = value
    return InfeasibleError(f"no design meets the pack, performance and mass limits together; the closest "
                           f"({_parts(design)}) is " + ", ".join(parts), details)


def model_bounds(d: ModelData, x: Design) -> list[dict]:
    """The model bounds (not physics) a design stands at: its body's battery space (an estimate in
    bodies.toml), the cell's pack-layout limit of strings in parallel (derived from that volume,
    inputs/pack_layout.py) and the pack's most cells in series (pack.toml). Each entry: name, text."""
    ci = int(d.layout_cell[x.choice.layout])
    body = d.bodies[int(d.pair_body[x.choice.pair])]
    pack = d.catalog.pack
    out = []
    if body.battery_volume_l - x.pack_volume_l < x.parallel * d.cell_pack_volume_l[ci]:
        out.append({"name": "battery_volume_l", "text": (
            f"body {body.id}'s battery space ({x.pack_volume_l:.0f} of {body.battery_volume_l:g} L: battery_volume_l "
            f"in bodies.toml, an estimate, at cell/pack volume ratio {pack.cell_to_pack_volume_ratio:g})")})
    limit = next(lim for lim in parallel_limits(d.catalog) if lim.cell == x.cell.id)
    if x.parallel >= limit.max_parallel:
        out.append({"name": "max_parallel", "text": limit.text(pack.cell_to_pack_volume_ratio)})
    if x.series >= pack.max_series:
        out.append({"name": "max_series", "text": f"pack.max_series = {pack.max_series} cells in series (pack.toml)"})
    return out


def part_ids(x: Design) -> dict:
    """The design's parts and pack layout by id, for programs (design studies count them)."""
    return {"cell": x.cell.id, "series": x.series, "parallel": x.parallel, "motor": x.motor.id, "body": x.body.id,
            "site": x.site}


def _parts(x: Design) -> str:
    return (f"{x.cell.id} {x.series}s{x.parallel}p {x.pack_energy_wh / 1000:.1f} kWh, motor {x.motor.id}, "
            f"body {x.body.id}, built at {x.site}")
