"""The MILP, built from small `add_<thing>(model, data)` functions, one named constraint group each.

`build_model(data, objective)` never reads a file: everything comes from `ModelData` (data.py).
"""
from __future__ import annotations

import pyomo.environ as pyo

from .body import add_body, add_lightweighting
from .consumption import add_consumption
from .data import ModelData
from .drive import add_drive
from .mass import add_mass
from .objective import add_objective, add_slack, select_objective
from .pack import add_pack
from .power import add_pack_power
from .performance import add_performance
from .price import add_price
from .regulation import add_regulation

__all__ = ["ModelData", "build_model", "select_objective"]


def build_model(d: ModelData, objective: str | None = None) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel(name=d.problem.name)
    add_slack(m, d)
    add_pack(m, d)
    add_drive(m, d)
    add_body(m, d)
    add_lightweighting(m, d)
    add_mass(m, d)
    add_pack_power(m, d, elastic=objective == "min_slack")
    add_performance(m, d)
    add_regulation(m, d)
    add_consumption(m, d)
    add_price(m, d)
    add_objective(m, d, objective or d.problem.objective)
    return m
