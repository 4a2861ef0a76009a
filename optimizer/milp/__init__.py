"""The MILP, built from small `add_<thing>(model, data)` functions, one named constraint group each.

`build_model(data, objective)` never reads a file: everything comes from `ModelData` (data.py).
"""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.milp.body import add_body, add_lightweighting
from kei.optimizer.milp.consumption import add_consumption
from kei.optimizer.milp.content import add_content, add_content_energy
from kei.optimizer.milp.drive import add_drive
from kei.optimizer.milp.mass import add_mass
from kei.optimizer.milp.objective import add_objective, add_slack, select_objective
from kei.optimizer.milp.pack import add_pack
from kei.optimizer.milp.performance import add_performance
from kei.optimizer.milp.power import add_pack_power
from kei.optimizer.milp.price import add_price
from kei.optimizer.milp.regulation import add_regulation
from kei.optimizer.prepare.model_data import ModelData

__all__ = ["ModelData", "build_model", "select_objective"]


def build_model(d: ModelData, objective: str | None = None) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel(name=d.problem.name)
    add_slack(m, d)
    add_pack(m, d)
    add_drive(m, d)
    add_body(m, d)
    add_lightweighting(m, d)
    add_content(m, d)
    add_mass(m, d)
    add_pack_power(m, d, elastic=objective == "min_slack")
    add_performance(m, d)
    add_regulation(m, d)
    add_consumption(m, d)
    add_content_energy(m, d)
    add_price(m, d)
    add_objective(m, d, objective or d.problem.objective)
    return m
