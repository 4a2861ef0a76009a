"""One study point: a fresh, correctly screened solve of the problem with the point's overrides.

Three questions a point can ask:

- `solve`: `kei.solve` of the problem as the overrides pose it: the verified optimum, or the
  explanation when there is none (with the floor price when only the cap stands in the way);
- `floor`: the cheapest design that meets everything but the price cap and the range (the price
  question behind a "no design at $15,000" verdict; no energy fits are needed for it);
- `verdict`: the floor, and when it is at or under the cap, `kei.solve` at the cap (the best range,
  verified by simulation). For a max-range problem without a range requirement a design meets the
  cap exactly when the floor does, so the floor decides the verdict and only the feasible points pay
  for a max-range solve.

Every point starts from the parsed tables (never from another point's model): the screens, the
price bounds and the fits are those of its own inputs. The floor is found by the floor engine the
study names: `enumeration` (the exhaustive search over the screened model that the MILP is tested
against, `optimizer/solving/brute_force.py`; exact, and about 15x faster than building and solving
the min-price MILP on the bundled catalog) or `milp` (the min-price MILP kei solve's explanation
runs). Results hold only numbers that depend on the inputs, never timings, so the same point gives
the same row anywhere.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

from kei.errors import InfeasibleError, KeiError, SolverError
from kei.optimizer.answers.design import Design, decode, evaluate
from kei.optimizer.inputs.problem import Problem
from kei.optimizer.milp import build_model
from kei.optimizer.prepare.model_data import clear_fit_cache, prepare
from kei.optimizer.solving.brute_force import enumerate_designs
from kei.optimizer.solving.pipeline import load_catalog_for, solve
from kei.optimizer.solving.solver import Solver, Status, load_solver_settings
from kei.optimizer.studies.overrides import Override
from kei.optimizer.studies.sources import PointInputs, StudyInputs
from kei.vehicle.cycles import load_cycle
from kei.vehicle.files import load_model_defaults

QUESTIONS = ("solve", "floor", "verdict")
FLOOR_ENGINES = ("enumeration", "milp")
CAP_TOLERANCE = 1e-9  # relative: the screens' and the oracle's tolerance on the price cap


@dataclass(frozen=True)
class Point:
    index: int
    question: str
    overrides: tuple[Override, ...] = ()

    @property
    def key(self) -> str:
        """What identifies the point's result (its index does not: a resumed study finds it by this)."""
        return json.dumps([self.question, [o.as_row() for o in self.overrides]])

    def row(self, result: dict) -> dict:
        return {"i": self.index, "question": self.question, "set": [o.as_row() for o in self.overrides],
                "result": result}


@dataclass(frozen=True)
class Task:
    """What a worker needs besides the points: the inputs and how the floor is found."""

    inputs: StudyInputs
    floor_engine: str
    key: str                       # a fingerprint of the two, so a worker keeps one Evaluator per study


def design_row(x: Design) -> dict:
    return {"price_usd": x.price_usd, "range_km": x.range_km, "verified_range_km": x.verified_range_km,
            "cell": x.cell.id, "series": x.series, "parallel": x.parallel, "energy_kwh": x.pack_energy_wh / 1000.0,
            "motor": x.motor.id, "body": x.body.id, "lightweighting_kg": x.lightweighting_kg}


class Evaluator:
    """Answers points in one process (a worker, or the driver for the serial executor)."""

    def __init__(self, task: Task):
        self.task = task
        self.inputs = PointInputs(task.inputs)
        self._fits_shared = False
        fit_files = (*self.inputs.files.catalog.values(), self.inputs.files.defaults)
        self._fit_files = frozenset(map(str, fit_files))

    def __call__(self, point: Point) -> dict:
        with self.inputs.serve(point.overrides) as (problem, changed):
            # Energy fits are cached per pair within a process, keyed by the catalog and the problem
            # but not by the model defaults: a point that changes either starts with an empty cache,
            # and so does the first point after it; points on the bundled catalog and defaults
            # (price caps, performance needs, price models) share the fits, which do not depend on them.
            shared = not (self._fit_files & set(changed))
            if not (shared and self._fits_shared):
                clear_fit_cache()
            self._fits_shared = shared
            return getattr(self, point.question)(problem)

    def solve(self, problem: Problem) -> dict:
        try:
            sol = solve(problem)
        except InfeasibleError as err:
            d = err.details
            return {"status": "infeasible", "stage": d.get("stage"), "explanation": err.explanation,
                    "floor_price_usd": d.get("cheapest_price_usd"), "floor_design": d.get("cheapest_parts")}
        x = sol.best
        return {"status": "optimal", "objective": problem.objective, "price_cap_usd": problem.price_cap_usd,
                **design_row(x), "binding": [b["name"] for b in x.binding]}

    def floor(self, problem: Problem) -> dict:
        priced = replace(problem, objective="min_price")
        settings = load_solver_settings()
        try:
            data = prepare(load_catalog_for(priced), priced, load_cycle(priced.cycle), load_model_defaults(), settings,
                           price_cap_usd=math.inf, min_range_km=0, price_screen=False, energy=False)
        except InfeasibleError as err:
            return {"status": "infeasible", "explanation": err.explanation}
        found = None
        if data.n_pairs and len(data.layout_cell):
            if self.task.floor_engine == "enumeration":
                # Only series counts some layout admits (voltage windows, power needs, battery space:
                # the bounds the MILP's own variables have, valid for every design) are enumerated.
                series = (int(data.layout_series_lo.min()), int(data.layout_series_hi.max()))
                best = enumerate_designs(data, pack_series=series).best
                if best:
                    e = best[0]
                    found = (e.value, {"cell": e.cell, "series": e.series, "parallel": e.parallel, "motor": e.motor,
                                       "body": e.body, "lightweighting_kg": e.lightweighting_kg})
            else:
                model = build_model(data, "min_price")
                if Solver(model, settings).solve().status is Status.OPTIMAL:
                    x = evaluate(data, decode(model, data))
                    found = (x.price_usd, {"cell": x.cell.id, "series": x.series, "parallel": x.parallel,
                                           "motor": x.motor.id, "body": x.body.id, "lightweighting_kg": x.lightweighting_kg})
        if found is None:  # no design at any price: kei solve says why
            return {"status": "infeasible", "explanation": self.solve(problem).get("explanation")}
        return {"status": "optimal", "floor_price_usd": found[0], "floor_design": found[1]}

    def verdict(self, problem: Problem) -> dict:
        if problem.objective != "max_range" or problem.min_range_km is not None:
            raise SolverError("the verdict question is for max-range problems without a range requirement; "
                              "ask `solve` for this problem")
        floor = self.floor(problem)
        if floor["status"] != "optimal":
            return {**floor, "feasible": False}
        if floor["floor_price_usd"] > problem.price_cap_usd * (1 + CAP_TOLERANCE):
            return {**floor, "feasible": False}
        best = self.solve(problem)
        if best["status"] != "optimal":
            raise SolverError(f"the floor ${floor['floor_price_usd']:,.2f} is under the ${problem.price_cap_usd:,.0f} cap "
                              f"but kei solve finds no design there: {best.get('explanation')}")
        return {**floor, "feasible": True, "best": {k: v for k, v in best.items() if k not in ("status", "objective")}}


class PointError(KeiError):
    """A point's error, carried from a worker process to the driver with its message and exit code
    (kei's errors take several arguments, which pickling between processes would lose)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def __reduce__(self):
        return (PointError, (str(self), self.exit_code))


_EVALUATORS: dict[str, Evaluator] = {}


def evaluate_batch(task: Task, points: list[Point]) -> list[dict]:
    """Rows for `points` (the function every executor runs, in its worker processes)."""
    evaluator = _EVALUATORS.get(task.key)
    if evaluator is None:
        _EVALUATORS.clear()   # one study at a time per process
        evaluator = _EVALUATORS[task.key] = Evaluator(task)
    rows = []
    for p in points:
        try:
            rows.append(p.row(evaluator(p)))
        except KeiError as err:
            raise PointError(f"study point {p.index}: {err}", err.exit_code) from None
    return rows
