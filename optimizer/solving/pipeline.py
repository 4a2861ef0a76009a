"""`kei solve`'s pipeline: validate -> prepare -> build -> (user hook) -> solve (ratio loop) -> verify.

    solution = solve("us_kei_15k", top=3)
    solution = solve(problem, extend=lambda model, data: model.pack_mass_cap.add(...))

Every design returned has been re-simulated with the full time-step model on the problem's cycle,
and is proven best by simulation: the certificate loop (certificate.py) simulates every design
whose bound beats the verified best, correcting the model on each simulated design (pair, cell and
parallel count, series count), until the model's optimum is a design already simulated.

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

import pyomo.environ as pyo

from kei.errors import SolverError, UsageError
from kei.optimizer.answers.binding import binding_constraints
from kei.optimizer.answers.design import Design, evaluate
from kei.optimizer.answers.solution import Solution
from kei.optimizer.inputs.parts import Catalog
from kei.optimizer.inputs.problem import Problem, load_problem
from kei.optimizer.milp import build_model
from kei.optimizer.prepare.model_data import ModelData, check_catalog, prepare
from kei.optimizer.solving.certificate import (
    Certificate,
    break_ties_on_price,
    certified_optimum,
    optimize,
    start_certificate,
)
from kei.optimizer.solving.infeasible import explain
from kei.optimizer.solving.solver import Solver, SolverSettings, load_solver_settings
from kei.vehicle.cycles import load_cycle
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
    cert = start_certificate(model, data, settings) if verify else None
    # solve + verify (the certificate loop), K times with no-good cuts
    for k in range(top):
        design = _solve_verified(model, solver, data, settings, sol, verify=verify, cert=cert)
        if design is None:
            if k == 0:
                raise explain(problem, catalog, cycle, defaults, settings, extend=extend)
            sol.notes.append(f"only {k} distinct design(s) exist; --top {top} asked for more")
            break
        design.binding = binding_constraints(data, design) + _binding_user_constraints(model, user)
        sol.designs.append(design)
        add_distinct_cut(model, data, design)
    seconds["total"] = time.perf_counter() - t_start
    sol.certificate = cert.to_dict() if cert is not None else None
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
                    verify: bool, cert: Certificate | None) -> Design | None:
    stats = {"milps": 0, "solve": 0.0, "verify": 0.0, "corrections": 0, "gap": None}
    try:
        if not verify:
            choice = optimize(model, solver, data, settings, stats, data.problem.objective)
            design = None if choice is None else evaluate(data, choice)
        else:
            design = certified_optimum(model, solver, data, settings, cert, stats, data.problem.objective)
            if design is not None and data.problem.objective == "max_range":
                design = break_ties_on_price(model, solver, data, settings, cert, stats, design)
    finally:
        sol.milps += stats["milps"]
        sol.corrections += stats["corrections"]
        sol.seconds["solve"] += stats["solve"]
        sol.seconds["verify"] += stats["verify"]
    if design is not None and not sol.designs:  # the reported gap is the best design's
        sol.gap = stats["gap"]
    if design is not None and verify and abs(design.drift) > settings.verify_tolerance:
        raise SolverError(f"the linear model differs from the simulation by {design.drift:+.1%} for "
                          f"{design.cell.id}/{design.motor.id}/{design.body.id}; not reporting a range the "
                          "simulation does not confirm")
    return design


def add_distinct_cut(model, data: ModelData, design: Design) -> None:
    """Exclude this combination of parts (cell, motor, body) from further solves."""
    ci = int(data.layout_cell[design.choice.layout])
    model.distinct.add(model.cell_chosen[ci] + model.pair[design.choice.pair] <= 1)
