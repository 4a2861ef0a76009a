"""Objectives. Max range is a ratio N(x)/D(x): Dinkelbach's method solves max N - lambda D for a
sequence of lambda (`ratio`, a mutable Param, so re-solves are incremental) until the optimum is 0;
min price is one MILP with the range requirement written linearly as N >= R_min x D."""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData

SLACK_GROUPS = ("voltage_v", "pack_peak_power_w", "pack_continuous_power_w", "pack_volume_l", "performance_kg", "mass_kg")


def add_slack(m, d: ModelData) -> None:
    """Elastic slacks of the physical constraint groups, fixed at 0 except when an infeasible
    problem is being explained (then the smallest violation is sought)."""
    m.SLACK_GROUPS = pyo.Set(initialize=SLACK_GROUPS, ordered=True)
    m.slack = pyo.Var(m.SLACK_GROUPS, bounds=(0.0, 0.0))


def add_objective(m, d: ModelData, objective: str) -> None:
    m.ratio = pyo.Param(mutable=True, initialize=0.0, doc="Dinkelbach's lambda, km")
    m.range_objective = pyo.Objective(expr=m.range_energy_wh - m.ratio * m.energy_per_km, sense=pyo.maximize)
    m.price_objective = pyo.Objective(expr=m.price_usd, sense=pyo.minimize)
    m.slack_weight = pyo.Param(m.SLACK_GROUPS, mutable=True, initialize=1.0)
    m.slack_objective = pyo.Objective(expr=pyo.quicksum(m.slack_weight[g] * m.slack[g] for g in m.SLACK_GROUPS),
                                      sense=pyo.minimize)
    if d.min_range_km is not None:
        m.min_range = pyo.Constraint(expr=m.range_energy_wh >= d.min_range_km * m.energy_per_km)
    m.distinct = pyo.ConstraintList(doc="no-good cuts excluding designs already found (--top K)")
    select_objective(m, objective)


def select_objective(m, objective: str) -> None:
    for name in ("range_objective", "price_objective", "slack_objective"):
        getattr(m, name).deactivate()
    {"max_range": m.range_objective, "min_price": m.price_objective, "min_slack": m.slack_objective}[objective].activate()
