"""Proven optima after verification: simulate until no unsimulated design can beat the verified best.

The linear model fits each motor x body pair's energy per km, with what the pack's charge acceptance
costs as planes below the measured loss (prepare/charge_limit.py). The full simulation leaves small
residuals against it (the first-order pack loss, the scaled motor map, the planes), so the model's
optimum, once simulated, may not be the best design by simulation: another cell on the same pair, or
another pair, can be. The certificate settles it.

Premise (stated in docs/optimizer.md): a design that has not been simulated reaches at most
(1 + margin_p) x its fitted range, margin_p = `certificate_margin` (configs/solver.toml) + the pair's
measured fit error. The fit leaves out only what lowers the simulated range (current limits clip
regeneration and never add energy) and terms the margin bounds.

The loop:
1. Every pair's energy per km starts at 1 / (1 + margin_p) of its fit: the model is then an upper
   bound on the simulated range of every design not yet simulated.
2. Solve. If the optimum is a design already simulated, it is exact there and a bound everywhere
   else: nothing unsimulated can beat it. Stop: proven.
3. Otherwise simulate it; the design (pair, cell type, cell count: what the simulation sees) gets the
   factor that makes the model agree with its simulation (`add_design_correction`), and go to 2.
For max range, step 2 need not converge Dinkelbach while an unsimulated design beats the best
simulated range: that design is simulated at once. Ties (within `tie_tolerance`) then go to the
cheapest design: max range with the price held below the best's (max range, then min price).
For min price the same loop gives the cheapest design whose simulated range meets the requirement.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from kei.errors import SolverError
from kei.optimizer.answers.design import Choice, Design, decode, evaluate, to_vehicle
from kei.optimizer.milp.consumption import add_design_correction
from kei.optimizer.prepare.model_data import ModelData
from kei.optimizer.solving.ratio import maximize_ratio
from kei.optimizer.solving.solver import Solver, SolverSettings, Status
from kei.vehicle.energy import simulate

TIE_PRICE_TOLERANCE = 1e-9  # relative: "cheaper" means by more than the MILP's feasibility tolerance
LW_KEY_DECIMALS = 1  # lightweighting kg a simulated design is known by: 0.1 kg moves the range by ~1e-5


@dataclass
class Certificate:
    """The state of the loop for one problem: every design simulated so far, kept across --top K."""

    margin: np.ndarray                          # per pair: the premise's bound on the fit's optimism
    simulated: dict = field(default_factory=dict)   # key(): (pair, cell, cells), lightweighting, options -> Design
    factors: dict = field(default_factory=dict)     # the same keys -> the factor that simulation measured
    proven: bool = True                         # False once a solve stopped at max_simulations
    premise_violations: list = field(default_factory=list)  # how far simulations beat their bound
    rounds: int = 0                             # MILP optima examined

    def to_dict(self) -> dict:
        return {"proven": self.proven and not self.premise_violations, "simulations": len(self.simulated),
                "rounds": self.rounds, "premise_violations": self.premise_violations,
                "margin_max": round(float(self.margin.max(initial=0.0)), 6)}


def start_certificate(model, data: ModelData, settings: SolverSettings) -> Certificate:
    """Put every pair at its optimistic bound (step 1)."""
    margin = settings.certificate_margin + np.asarray(data.fit.max_rel_error, dtype=float)
    data.correction[:] = 1.0 / (1.0 + margin)
    for p in model.PAIRS:
        model.correction[p].set_value(float(data.correction[p]))
    return Certificate(margin=margin)


def key(data: ModelData, choice: Choice) -> tuple:
    # What the simulation sees (ModelData.design_key), the mass removed and the content options (their
    # drag, tyres and auxiliary load).
    return (data.design_key(choice.pair, choice.layout, choice.series), round(choice.lightweighting_kg, LW_KEY_DECIMALS),
            choice.options)


def certified_optimum(model, solver: Solver, data: ModelData, settings: SolverSettings, cert: Certificate,
                      stats: dict, objective: str) -> Design | None:
    """Steps 2-3 on the model's current constraints: the best design by simulation, or None."""
    for _ in range(settings.max_simulations + 1):
        # Dinkelbach starts from below: the longest simulated range is a design the corrected model
        # reaches exactly (a start above the new optimum, such as the last round's, costs a MILP more).
        start = max((x.verified_range_km for x in cert.simulated.values()), default=0.0)
        # Any unsimulated design the model finds above the best simulated range must be simulated
        # anyway: stop Dinkelbach at the first such (a Dinkelbach step costs a MILP, 0.02-0.2 s on the
        # bundled problems, a simulation about 1 ms); the proof is the final round, where nothing beats
        # it. Before anything is simulated, not at the first step: from lambda = 0 it gives the
        # largest pack, seldom the answer.
        def accept(iteration: int) -> bool:
            return (bool(cert.simulated) or iteration >= 2) and key(data, decode(model, data)) not in cert.simulated

        choice = optimize(model, solver, data, settings, stats, objective, start=start * (1.0 - 1e-9), accept=accept)
        cert.rounds += 1
        if choice is None:
            return None
        known = cert.simulated.get(key(data, choice))
        if known is not None:
            return _as_simulated(data, cert, choice, known)
        _simulate_and_correct(model, data, cert, stats, choice)
    cert.proven = False
    best = max(cert.simulated.values(), key=lambda x: x.verified_range_km) if objective == "max_range" else min(
        (x for x in cert.simulated.values() if data.min_range_km is None
         or x.verified_range_km >= data.min_range_km), key=lambda x: x.price_usd, default=None)
    if best is None:
        raise SolverError(f"no simulated design met the requirements after {settings.max_simulations} simulations "
                          "(max_simulations, configs/solver.toml)")
    return best


def break_ties_on_price(model, solver: Solver, data: ModelData, settings: SolverSettings, cert: Certificate,
                        stats: dict, best: Design) -> Design:
    """Max range, then min price: the cheapest design whose simulated range is within `tie_tolerance`
    of the best (a site, say, that the range does not see).

    Asked as the problem itself is, max range, with the price held below the best's: if no cheaper
    design's model range (a bound on every unsimulated one) reaches the tie band, the best stands
    (one MILP, which is the usual case); a cheaper one that does is simulated, and one whose simulated
    range is in the band becomes the best, until none is left."""
    target = best.verified_range_km * (1.0 - settings.tie_tolerance)
    model.tie_price = pyo.Param(mutable=True, initialize=best.price_usd)
    model.tie_cheaper = pyo.Constraint(expr=model.price_usd <= model.tie_price)
    gap = stats["gap"]   # the answer's gap is the max-range proof's, not this question's
    try:
        for _ in range(settings.max_simulations + 1):
            model.tie_price.set_value(best.price_usd * (1.0 - TIE_PRICE_TOLERANCE))
            # Any cheaper design above the band's edge is the answer to check: no need to converge.
            choice = optimize(model, solver, data, settings, stats, "max_range", start=target, accept=lambda it: True,
                              above_start_only=True)
            cert.rounds += 1
            if choice is None or pyo.value(model.range_energy_wh) < target * pyo.value(model.energy_per_km):
                return best                      # nothing cheaper reaches the band, even on its bound
            known = cert.simulated.get(key(data, choice))
            design = (_as_simulated(data, cert, choice, known) if known is not None
                      else _simulate_and_correct(model, data, cert, stats, choice))
            if design.verified_range_km >= target and design.price_usd < best.price_usd:
                best = design
            elif known is not None:
                return best                      # a simulated design at its own factor: the model can say no more
        cert.proven = False
        return best
    finally:
        stats["gap"] = gap
        model.del_component(model.tie_cheaper)
        model.del_component(model.tie_price)


def optimize(model, solver: Solver, data: ModelData, settings: SolverSettings, stats: dict, objective: str,
             start: float = 0.0, accept=None, above_start_only: bool = False):
    """One optimum of the current model (a Choice), or None if infeasible; the certified gap of the
    solve goes to stats["gap"]. `start`, `accept`, `above_start_only`: Dinkelbach's first lambda and
    early stops (max range only, solving/ratio.py); an early stop returns a design above `start`, or
    with `above_start_only` the best design below it, not the optimum."""
    t = time.perf_counter()
    try:
        if objective == "max_range":
            d_min = float(np.min(data.correction)) * float(np.min(data.fit.intercept_wh_per_km
                                                + data.fit.slope_wh_per_km_per_kg * data.pair_mass_lo_kg))
            res = maximize_ratio(model, solver, settings, d_min=d_min, start=start, accept=accept,
                                 above_start_only=above_start_only)
            stats["milps"] += res.iterations
            if res.status is Status.INFEASIBLE:
                return None
            if res.converged:
                stats["gap"] = res.gap
            return decode(model, data)
        res = solver.solve()
        stats["milps"] += 1
        if res.status is Status.INFEASIBLE:
            return None
        if res.status is not Status.OPTIMAL:
            raise SolverError(f"MILP ended {res.status.value} after {res.seconds:.1f} s")
        stats["gap"] = res.gap
        return decode(model, data)
    finally:
        stats["solve"] += time.perf_counter() - t


def _as_simulated(data: ModelData, cert: Certificate, choice: Choice, known: Design) -> Design:
    """The optimum `choice` of a design already simulated (`known`, the same key)."""
    # What the simulation saw is known: the optimum at the simulated lightweighting (it may differ by
    # < 0.05 kg), so the reported range is the simulation's, but with the optimum's own site and
    # arrangement of the cells, which the simulation does not see and the price does (a tie on range
    # goes to the cheaper site).
    same = dataclasses.replace(choice, lightweighting_kg=known.choice.lightweighting_kg)
    design = evaluate(data, same, factor=cert.factors[key(data, choice)])
    _copy_verification(known, design)
    return design


def _simulate_and_correct(model, data: ModelData, cert: Certificate, stats: dict, choice: Choice) -> Design:
    """Step 3: simulate the design and give it (pair, cell, cells) the factor its simulation measured."""
    design = evaluate(data, choice)
    t = time.perf_counter()
    verify_design(data, design)
    stats["verify"] += time.perf_counter() - t
    design_key = data.design_key(choice.pair, choice.layout, choice.series)
    f_now = data.energy_factor(choice.pair, choice.layout, choice.series)
    design.model_drift = _fit_drift(data, design)   # before the factor moves
    if design.drift < 0 and design_key not in data.design_correction:
        # An unsimulated design beat its bound: the premise failed here. Said in the answer; the design
        # keeps its bound (a surcharge-only correction cannot lower the model below it). (A design
        # simulated before at another lightweighting only gets its factor refreshed.)
        cert.premise_violations.append(round(-design.drift, 6))
    # The factor scales the pair's fitted energy B; the content options' deltas and the charge-limit loss
    # D are added unfactored (milp/content.py, milp/consumption.py), so the model meets the simulation,
    # f B + D = (f_now B + D)(1 + drift), at:
    base, delta = _base_and_delta(data, design)
    measured = f_now * (1.0 + design.drift) + (delta * design.drift / base if base > 0 else 0.0)
    # One factor per design serves every lightweighting: the largest measured keeps the model at or below
    # the simulation wherever the design was simulated (a min-price answer never falls short).
    data.design_correction[design_key] = max(measured, data.design_correction.get(design_key, measured))
    add_design_correction(model, data, *design_key)
    cert.simulated[key(data, choice)] = design
    cert.factors[key(data, choice)] = measured
    stats["corrections"] += 1
    return design


def verify_design(data: ModelData, design: Design) -> None:
    """Simulate the design file with the full time-step model on the problem's cycle."""
    result = simulate(to_vehicle(data, design), data.cycle)
    design.verified_range_km = result.range_km
    design.verified_wh_per_km = result.energy_wh_per_km
    design.trace_miss_s = result.trace_miss_s
    design.simulation = result
    design.valid_test = result.valid_test


def _base_and_delta(data: ModelData, design: Design) -> tuple[float, float]:
    """The pair's fitted Wh/km at the design's test mass, and what no factor scales (the content options'
    deltas, the charge-limit loss)."""
    ch = design.choice
    return (data.fit.wh_per_km(ch.pair, design.test_mass_kg),
            data.unfactored_wh_per_km(ch.pair, design.test_mass_kg, ch.layout, ch.series, ch.options))


def _fit_drift(data: ModelData, design: Design) -> float:
    """The plain fit's range (no factor) over the simulated one, - 1: what the fit got wrong here."""
    f = data.energy_factor(design.choice.pair, design.choice.layout, design.choice.series)
    base, delta = _base_and_delta(data, design)
    plain = base + delta
    return design.range_km * (f * base + delta) / plain / design.verified_range_km - 1.0 if plain > 0 else 0.0


def _copy_verification(src: Design, dst: Design) -> None:
    for name in ("verified_range_km", "verified_wh_per_km", "trace_miss_s", "simulation", "valid_test", "model_drift"):
        setattr(dst, name, getattr(src, name))
