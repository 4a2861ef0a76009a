"""The enumeration ranked by the full simulation: the oracle for verified solves (max range).

`enumerate_designs` gives, for every (cell, motor, body) group, its best design by the linear model
with the lightweighting solved exactly; each is then simulated with the full time-step model (the
same `simulate` a user runs on the design file) and the groups are ranked by simulated range, ties
on price. Shares nothing with the certificate loop but the simulation itself.
"""
from __future__ import annotations

from kei.errors import InfeasibleError
from kei.optimizer.answers.design import Choice, evaluate, to_vehicle
from kei.optimizer.prepare.model_data import prepare
from kei.optimizer.solving.brute_force import enumerate_designs
from kei.optimizer.solving.solver import load_solver_settings
from kei.vehicle.cycles import load_cycle
from kei.vehicle.energy import simulate
from kei.vehicle.files import load_model_defaults

ALL_GROUPS = 10**6


def ranked_by_simulation(catalog, problem) -> list[tuple[float, float, tuple[str, str, str]]]:
    """[(simulated range km, price USD, (cell, motor, body))], best first; [] when nothing is feasible."""
    try:
        d = prepare(catalog, problem, load_cycle(problem.cycle), load_model_defaults(), load_solver_settings(),
                    price_screen=False)
    except InfeasibleError:
        return []
    out = []
    for e in enumerate_designs(d, top=ALL_GROUPS).best:
        layout = next(i for i in range(len(d.layout_cell))
                      if d.cells[d.layout_cell[i]].id == e.cell and d.layout_parallel[i] == e.parallel)
        pair = next(p for p in range(d.n_pairs)
                    if d.motors[d.pair_motor[p]].id == e.motor and d.bodies[d.pair_body[p]].id == e.body)
        design = evaluate(d, Choice(layout=layout, series=e.series, pair=pair, lightweighting_kg=e.lightweighting_kg,
                                    site=d.sites.index(e.site)))
        sim = simulate(to_vehicle(d, design), d.cycle)
        if d.min_range_km is None or sim.range_km >= d.min_range_km:
            out.append((sim.range_km, design.price_usd, e.parts))
    return sorted(out, key=lambda x: (-x[0], x[1]))
