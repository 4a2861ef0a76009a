"""The one door to HiGHS: Pyomo's persistent `appsi_highs` interface behind our own status and result.

No other file knows Pyomo's solver interfaces. The solver is persistent: after the first solve, a
change of a mutable Param (the Dinkelbach ratio, a model correction), a new cut or a deactivated
constraint is passed to HiGHS incrementally instead of rebuilding the model, and the previous
solution is offered as a MIP start.

(`pyomo.contrib.solver`'s 'highs' works too with pyomo 6.10 / highspy 1.16, but takes no MIP start;
`appsi_highs` is the one of the two that does.)
"""
from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from kei.errors import ConfigError, SolverError
from kei.resources import config_file
from kei.schema import Field, read_toml, validate_table

SETTINGS_FIELDS = (
    Field("mip_rel_gap", float, "-", "relative MIP gap of each MILP", min=0.0, max=0.1),
    Field("mip_abs_gap", float, "objective units", "absolute MIP gap of each MILP", min=0.0),
    Field("ratio_tolerance", float, "-", "Dinkelbach stop: max(N - lambda D) <= this x N", min=0.0, max=0.01),
    Field("max_ratio_iterations", int, "-", "Dinkelbach iteration limit", min=1),
    Field("time_limit_s", float, "s", "time limit per MILP", min=0.01),
    Field("verify_tolerance", float, "-", "allowed |predicted / simulated range - 1|", min=0.0, max=0.5),
    Field("certificate_margin", float, "-", "most an unsimulated design may beat its fitted range by, beyond the fit error",
          min=0.0, max=0.2),
    Field("tie_tolerance", float, "-", "ranges this close (relative) tie, and the cheaper design wins", min=0.0, max=0.05),
    Field("max_simulations", int, "-", "simulations per certificate before the answer is reported unproven", min=1),
    Field("fit_mass_points", int, "-", "masses per motor x body pair in the energy fit", min=3, max=50),
    Field("charge_limit_min_w_per_kg", float, "W/kg", "lowest charge limit per kg of test mass where the charge-limit "
          "loss is measured", min=0.01, max=100.0),
    Field("charge_limit_max_w_per_kg", float, "W/kg", "highest such charge limit", min=0.1, max=1000.0),
    Field("charge_limit_points", int, "-", "charge limits measured, geometric from min to max", min=2, max=60),
    Field("accel_speed_points", int, "-", "velocity grid of the 0-100 km/h integral", min=20),
    Field("accel_bisection_steps", int, "-", "bisection steps of the 0-100 km/h mass limit", min=5, max=200),
)


@dataclass(frozen=True)
class SolverSettings:
    mip_rel_gap: float
    mip_abs_gap: float
    ratio_tolerance: float
    max_ratio_iterations: int
    time_limit_s: float
    verify_tolerance: float
    certificate_margin: float
    tie_tolerance: float
    max_simulations: int
    fit_mass_points: int
    charge_limit_min_w_per_kg: float
    charge_limit_max_w_per_kg: float
    charge_limit_points: int
    accel_speed_points: int
    accel_bisection_steps: int
    highs: tuple[tuple[str, object], ...] = ()   # raw HiGHS options ([highs] table)


def load_solver_settings(path=None) -> SolverSettings:
    path = path if path is not None else config_file("solver.toml")
    raw = validate_table(read_toml(path), SETTINGS_FIELDS, file=path, allow_subtables=("highs",))
    highs = raw.pop("highs", {})
    if not isinstance(highs, dict) or not all(isinstance(v, (bool, int, float, str)) for v in highs.values()):
        raise ConfigError(str(path), "highs", "expected a table of HiGHS option = value")
    if raw["charge_limit_max_w_per_kg"] <= raw["charge_limit_min_w_per_kg"]:
        raise ConfigError(str(path), "charge_limit_max_w_per_kg", "must be above charge_limit_min_w_per_kg")
    return SolverSettings(**raw, highs=tuple(highs.items()))


class Status(enum.Enum):
    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"
    ERROR = "error"


@dataclass(frozen=True)
class SolveResult:
    status: Status
    objective: float | None    # incumbent, in the model's sense
    bound: float | None        # best bound from branch and bound
    seconds: float             # wall time of this solve, including the model update
    has_solution: bool

    @property
    def gap(self) -> float | None:
        """Relative gap |bound - objective| / max(|objective|, 1e-9)."""
        if self.objective is None or self.bound is None:
            return None
        return abs(self.bound - self.objective) / max(abs(self.objective), 1e-9)


class Solver:
    """Persistent HiGHS on one Pyomo model. `solve()` loads the solution into the model's variables."""

    def __init__(self, model, settings: SolverSettings):
        from pyomo.contrib.appsi.solvers.highs import Highs

        self.model = model
        self._highs = Highs()
        if not self._highs.available():
            raise SolverError("HiGHS is not available: install highspy (pip install highspy)")
        cfg = self._highs.config
        cfg.load_solution = False
        cfg.time_limit = settings.time_limit_s
        cfg.mip_gap = settings.mip_rel_gap
        self._highs.highs_options = {"mip_abs_gap": settings.mip_abs_gap, "threads": 1, **dict(settings.highs)}
        self._solved_once = False

    def solve(self, warm_start: bool = True) -> SolveResult:
        from pyomo.contrib.appsi.base import TerminationCondition as TC

        self._highs.config.warmstart = warm_start and self._solved_once
        start = time.perf_counter()
        try:
            res = self._highs.solve(self.model)
        except Exception as err:  # HiGHS or the interface failed: not the user's problem
            raise SolverError(f"HiGHS failed: {err}") from err
        seconds = time.perf_counter() - start
        self._solved_once = True
        status = {
            TC.optimal: Status.OPTIMAL,
            TC.infeasible: Status.INFEASIBLE,
            TC.infeasibleOrUnbounded: Status.INFEASIBLE,
            TC.unbounded: Status.UNBOUNDED,
            TC.maxTimeLimit: Status.TIME_LIMIT,
        }.get(res.termination_condition, Status.ERROR)
        has_solution = res.best_feasible_objective is not None
        if has_solution:
            res.solution_loader.load_vars()
        return SolveResult(status=status, objective=res.best_feasible_objective, bound=res.best_objective_bound,
                           seconds=seconds, has_solution=has_solution)
