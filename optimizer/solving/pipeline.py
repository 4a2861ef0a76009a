"""`kei solve`'s pipeline: validate -> prepare -> build -> (user hook) -> solve (ratio loop) -> verify.

    solution = solve("us_kei_15k", top=3)
    solution = solve(problem, extend=lambda model, data: model.pack_mass_cap.add(...))

Every design returned has been re-simulated with the full time-step model on the problem's cycle;
its predicted range agrees with the simulation within `verify_tolerance`. When the linear model
drifts further, the pair's energy per km is corrected to the simulation and the MILP re-solved, so
the optimum is found on a model that agrees with the simulation where it matters.

The `extend` hook (PyPSA's `extra_functionality`) receives the built Pyomo model and its
`ModelData` before the first solve, and adds constraints (or variables) of its own. The same hook
is applied to every model the pipeline builds for this problem: the ratio loop and `top` designs
reuse the extended model, and the explanation of an infeasible problem extends its models too.
"""
from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import pyomo.environ as pyo

from kei.errors import SolverError, UsageError
from kei.optimizer.answers.binding import binding_constraints
from kei.optimizer.answers.design import Design, decode, evaluate, to_vehicle
from kei.optimizer.answers.solution import Solution
from kei.optimizer.inputs.parts import Catalog
from kei.optimizer.inputs.problem import Problem, load_problem
from kei.optimizer.milp import build_model
from kei.optimizer.prepare.model_data import ModelData, check_catalog, prepare
from kei.optimizer.solving.infeasible import explain
from kei.optimizer.solving.ratio import maximize_ratio
from kei.optimizer.solving.solver import Solver, SolverSettings, Status, load_solver_settings
from kei.vehicle.cycles import load_cycle
from kei.vehicle.energy import simulate
from kei.vehicle.files import load_model_defaults

Extend = Callable[[pyo.ConcreteModel, ModelData], None]
USER_ACTIVE_TOL = 1e-6  # relative: a user constraint within this of its bound binds


def load_catalog_for(problem: Problem) -> Catalog:
    from kei.optimizer.inputs.catalog import load_catalog  # the loader lives with the catalog files

    return load_catalog(problem.catalog_dir)


def solve(problem: Problem | str | Path, *, top: int = 1, price_cap_usd: float | None = None,
          extend: Extend | None = None, catalog: Catalog | None = None, settings: SolverSettings | None = None,
          verify: bool = True) -> Solution:
    """The best `top` designs with distinct parts for `problem` (a Problem, a problem file or a
    bundled name such as "us_kei_15k"), each verified by simulation.

    price_cap_usd overrides the problem's cap; extend(model, data) adds user constraints; catalog
    replaces the problem's catalog. Raises InfeasibleError (with the explanation in numbers) when no
    design exists, UsageError for a bad argument."""
    if top < 1:
        raise UsageError("--top", f"must be at least 1, got {top}")
    if price_cap_usd is not None and not (math.isfinite(price_cap_usd) and price_cap_usd > 0):
        raise UsageError("--price-cap", f"must be a positive number of US dollars, got {price_cap_usd:g}")
    problem = problem if isinstance(problem, Problem) else load_problem(problem)
    if price_cap_usd is not None:
        problem = replace(problem, price_cap_usd=float(price_cap_usd))
    t_start = time.perf_counter()
    settings = settings or load_solver_settings()
    # validate
    catalog = catalog if catalog is not None else load_catalog_for(problem)
    check_catalog(catalog)
    cycle = load_cycle(problem.cycle)
    defaults = load_model_defaults()
    # prepare
    t = time.perf_counter()
    data = prepare(catalog, problem, cycle, defaults, settings)
    seconds = {"prepare": time.perf_counter() - t}
    if data.n_pairs == 0 or len(data.layout_cell) == 0:
        raise explain(problem, catalog, cycle, defaults, settings, extend=extend)
    # build, then the user's hook
    t = time.perf_counter()
    model = build_model(data)
    user = _apply_extend(model, data, extend)
    solver = Solver(model, settings)
    seconds["build"] = time.perf_counter() - t
    sol = Solution(problem=problem, data=data, designs=[], seconds=seconds, user_constraints=user)
    seconds["solve"] = seconds["verify"] = 0.0
    # solve + verify, K times with no-good cuts
    for k in range(top):
        design = _solve_verified(model, solver, data, settings, sol, verify=verify)
        if design is None:
            if k == 0:
                raise explain(problem, catalog, cycle, defaults, settings, extend=extend)
            sol.notes.append(f"only {k} distinct design(s) exist; --top {top} asked for more")
            break
        design.binding = binding_constraints(data, design) + _binding_user_constraints(model, user)
        sol.designs.append(design)
        add_distinct_cut(model, data, design)
    seconds["total"] = time.perf_counter() - t_start
    return sol


def _apply_extend(model: pyo.ConcreteModel, data: ModelData, extend: Extend | None) -> list[str]:
    """Run the user's hook; return the names of the components it added (for reports and binding)."""
    if extend is None:
        return []
    before = {c.name for c in model.component_objects(descend_into=True)}
    extend(model, data)
    return [c.name for c in model.component_objects(descend_into=True) if c.name not in before]


def _binding_user_constraints(model: pyo.ConcreteModel, names: list[str]) -> list[dict]:
    """User constraints that hold with equality at the solution the model last found."""
    out = []
    for name in names:
        component = model.find_component(name)
        if not isinstance(component, pyo.Constraint):
            continue
        for index in component:
            con = component[index]
            if not con.active:
                continue
            body = pyo.value(con.body, exception=False)
            if body is None:
                continue
            for bound in (con.lower, con.upper):
                limit = pyo.value(bound) if bound is not None else None
                if limit is not None and abs(body - limit) <= USER_ACTIVE_TOL * max(1.0, abs(limit)):
                    label = con.name
                    out.append({"name": f"user:{label}", "value": round(float(body), 6), "limit": round(float(limit), 6),
                                "unit": "-", "text": f"user constraint {label} holds with equality ({body:g})"})
                    break
    return out


def _solve_verified(model, solver: Solver, data: ModelData, settings: SolverSettings, sol: Solution, *,
                    verify: bool) -> Design | None:
    design = None
    for round_ in range(settings.max_corrections + 1):
        t = time.perf_counter()
        choice, gap = _optimize(model, solver, data, settings, sol)
        sol.seconds["solve"] += time.perf_counter() - t
        if choice is None:
            return None
        design = evaluate(data, choice)
        if not sol.designs:  # the reported gap is the best design's
            sol.gap = gap
        if not verify:
            return design
        t = time.perf_counter()
        verify_design(data, design)
        sol.seconds["verify"] += time.perf_counter() - t
        if abs(design.drift) <= settings.correct_above:
            return design
        if round_ < settings.max_corrections:
            # Refit the pair around the chosen point: scale its energy per km to what the full
            # simulation says for this design, then re-solve (the optimum may move).
            p = choice.pair
            data.correction[p] *= 1.0 + design.drift
            model.correction[p].set_value(float(data.correction[p]))
            sol.corrections += 1
    if abs(design.drift) <= settings.verify_tolerance:
        return design
    raise SolverError(f"the linear model still differs from the simulation by {design.drift:+.1%} for "
                      f"{design.cell.id}/{design.motor.id}/{design.body.id} after {settings.max_corrections} "
                      "corrections; not reporting a range the simulation does not confirm")


def _optimize(model, solver: Solver, data: ModelData, settings: SolverSettings, sol: Solution):
    """One optimum of the current model: (Choice, certified gap) or (None, None) if infeasible."""
    if data.problem.objective == "max_range":
        d_min = float(np.min(data.correction * (data.fit.intercept_wh_per_km
                                                + data.fit.slope_wh_per_km_per_kg * data.pair_mass_lo_kg)))
        res = maximize_ratio(model, solver, settings, d_min=d_min)
        sol.milps += res.iterations
        if res.status is Status.INFEASIBLE:
            return None, None
        return decode(model, data), res.gap
    res = solver.solve()
    sol.milps += 1
    if res.status is Status.INFEASIBLE:
        return None, None
    if res.status is not Status.OPTIMAL:
        raise SolverError(f"MILP ended {res.status.value} after {res.seconds:.1f} s")
    return decode(model, data), res.gap


def verify_design(data: ModelData, design: Design) -> None:
    """Simulate the design file with the full time-step model on the problem's cycle."""
    result = simulate(to_vehicle(data, design), data.cycle)
    design.verified_range_km = result.range_km
    design.verified_wh_per_km = result.energy_wh_per_km
    design.trace_miss_s = result.trace_miss_s
    design.verified_band = result.band
    design.valid_test = result.valid_test


def add_distinct_cut(model, data: ModelData, design: Design) -> None:
    """Exclude this combination of parts (cell, motor, body) from further solves."""
    ci = int(data.layout_cell[design.choice.layout])
    model.distinct.add(model.cell_chosen[ci] + model.pair[design.choice.pair] <= 1)
