"""`kei solve`'s pipeline: validate -> fit -> build -> solve (ratio loop) -> verify -> write.

    solution = solve_problem(load_problem("configs/problems/us_kei_15k.toml"), top=3)

Every design returned has been re-simulated with the full time-step model on the problem's cycle;
its predicted range agrees with the simulation within `verify_tolerance` (1 %). When the linear model
drifts further, the pair's energy per km is corrected to the simulation and the MILP re-solved, so
the optimum is found on a model that agrees with the simulation where it matters.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from kei.errors import SolverError
from kei.optimizer.answers.binding import binding_constraints
from kei.optimizer.answers.design import Design, decode, evaluate, to_vehicle
from kei.optimizer.inputs.parts import Catalog
from kei.optimizer.inputs.problem import Problem
from kei.optimizer.milp import build_model
from kei.optimizer.prepare.model_data import ModelData, check_catalog, prepare
from kei.optimizer.solving.infeasible import explain
from kei.optimizer.solving.ratio import maximize_ratio
from kei.optimizer.solving.solver import Solver, SolverSettings, Status, load_solver_settings
from kei.vehicle.cycles import load_cycle
from kei.vehicle.energy import simulate
from kei.vehicle.files import load_model_defaults


@dataclass
class Solution:
    problem: Problem
    data: ModelData
    designs: list[Design]
    seconds: dict                       # prepare, build, solve, verify, total
    milps: int = 0                      # MILPs solved (all ratio iterations, all designs)
    corrections: int = 0                # pairs corrected to the simulation
    gap: float | None = None            # certified relative optimality gap of the best design
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> Design:
        return self.designs[0]


def load_catalog_for(problem: Problem) -> Catalog:
    from kei.optimizer.inputs.catalog import load_catalog  # the loader lives with the catalog files

    return load_catalog(problem.catalog_dir)


def solve_problem(problem: Problem, *, catalog: Catalog | None = None, top: int = 1,
                  settings: SolverSettings | None = None, verify: bool = True) -> Solution:
    t_start = time.perf_counter()
    settings = settings or load_solver_settings()
    # validate
    catalog = catalog if catalog is not None else load_catalog_for(problem)
    check_catalog(catalog)
    cycle = load_cycle(problem.cycle)
    defaults = load_model_defaults()
    # fit
    t = time.perf_counter()
    data = prepare(catalog, problem, cycle, defaults, settings)
    seconds = {"prepare": time.perf_counter() - t}
    if data.n_pairs == 0 or len(data.layout_cell) == 0:
        raise explain(problem, catalog, cycle, defaults, settings)
    # build
    t = time.perf_counter()
    model = build_model(data)
    solver = Solver(model, settings)
    seconds["build"] = time.perf_counter() - t
    sol = Solution(problem=problem, data=data, designs=[], seconds=seconds)
    seconds["solve"] = seconds["verify"] = 0.0
    # solve + verify, K times with no-good cuts
    for k in range(top):
        design = _solve_verified(model, solver, data, settings, sol, verify=verify)
        if design is None:
            if k == 0:
                raise explain(problem, catalog, cycle, defaults, settings)
            sol.notes.append(f"only {k} distinct design(s) exist; --top {top} asked for more")
            break
        design.binding = binding_constraints(data, design)
        sol.designs.append(design)
        add_distinct_cut(model, data, design)
    seconds["total"] = time.perf_counter() - t_start
    return sol


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
