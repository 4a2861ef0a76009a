"""Dinkelbach's method: maximize N(x) / D(x) exactly with a sequence of MILPs.

For lambda_k = N(x_k) / D(x_k) of the incumbent, solve F(lambda) = max_x N(x) - lambda D(x) (D > 0).
F(lambda*) = 0 exactly at the optimal ratio lambda*; each step is a Newton step on the convex,
decreasing F, so lambda_k rises superlinearly to lambda* (3-6 MILPs in practice). The model's
objective holds lambda as a mutable Param, so each MILP is an incremental update of the previous one
with its solution as a MIP start.

Certificate: at the last lambda, branch and bound proves F(lambda) <= B (its bound), hence for every
feasible x: N(x) / D(x) <= lambda + B / D_min, with D_min the smallest energy per km any pair reaches.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import pyomo.environ as pyo

from kei.errors import SolverError
from kei.optimizer.solving.solver import Solver, SolveResult, SolverSettings, Status


@dataclass
class RatioResult:
    status: Status
    ratio: float | None = None          # N / D of the final solution
    upper_bound: float | None = None    # certified: no design exceeds it
    iterations: int = 0
    converged: bool = True              # False: stopped early by `accept` (ratio is a lower bound only)
    seconds: float = 0.0
    solves: list[SolveResult] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        if self.ratio is None or self.upper_bound is None:
            return None
        return max(self.upper_bound - self.ratio, 0.0) / max(abs(self.ratio), 1e-12)


def maximize_ratio(m, solver: Solver, settings: SolverSettings, d_min: float, start: float = 0.0,
                   accept=None, above_start_only: bool = False) -> RatioResult:
    """Maximize m.range_energy_wh / m.energy_per_km through the mutable `m.ratio` (lambda).

    `accept(iteration)`, if given, is asked after every MILP whose solution beats lambda: True stops
    there with that solution (status OPTIMAL, `converged` False, no bound). The certificate uses it to
    simulate a design that beats the best simulated range as soon as one turns up, instead of
    converging first. `above_start_only`: only whether a design beats `start` matters, so a first MILP
    whose optimum is below it (F(start) < 0, a proof that none does) stops with that solution."""
    t0 = time.perf_counter()
    out = RatioResult(status=Status.OPTIMAL)
    lam = start
    for it in range(1, settings.max_ratio_iterations + 1):
        m.ratio.set_value(lam)
        res = solver.solve()
        out.solves.append(res)
        out.iterations = it
        if res.status is Status.INFEASIBLE:
            out.status = Status.INFEASIBLE
            break
        if res.status is not Status.OPTIMAL:
            raise SolverError(f"ratio subproblem {it} ended {res.status.value} after {res.seconds:.1f} s "
                              f"(time limit per MILP {settings.time_limit_s:g} s, configs/solver.toml)")
        num, den = pyo.value(m.range_energy_wh), pyo.value(m.energy_per_km)
        f_value = num - lam * den
        ratio = num / den
        if abs(f_value) <= settings.ratio_tolerance * abs(num):
            out.ratio = ratio
            bound = res.bound if res.bound is not None else f_value
            out.upper_bound = lam + max(bound, 0.0) / d_min
            break
        if f_value < 0 and above_start_only:
            out.ratio, out.upper_bound = ratio, lam
            break
        if f_value > 0 and accept is not None and accept(it):
            out.ratio, out.converged = ratio, False
            break
        lam = ratio
    else:
        raise SolverError(f"Dinkelbach did not converge in {settings.max_ratio_iterations} iterations "
                          f"(last ratio {lam:.6g})")
    out.seconds = time.perf_counter() - t0
    return out
