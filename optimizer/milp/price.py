"""Retail price: the car's cost at its assembly site (factory cost with part duties, vehicle duty,
manufacturing credit: site.py) times the retail price equivalent and sales tax."""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.milp.site import add_site
from kei.optimizer.prepare.model_data import ModelData


def add_price(m, d: ModelData) -> None:
    add_site(m, d)
    m.bom_usd = pyo.Expression(expr=m.car_cost_usd)
    m.price_usd = pyo.Expression(expr=d.price_per_bom * m.bom_usd)
    if d.price_cap_usd is not None:
        m.price_cap = pyo.Constraint(expr=m.price_usd <= d.price_cap_usd)
