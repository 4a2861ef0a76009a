"""Retail price: bill of materials (landed part costs with tariffs by origin, pack integration,
lightweighting, fixed content, assembly) times the retail price equivalent and sales tax."""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def add_price(m, d: ModelData) -> None:
    m.bom_usd = pyo.Expression(
        expr=pyo.quicksum(float(d.body_landed_usd[b]) * m.body_chosen[b] for b in m.BODIES)
        + pyo.quicksum(float(d.motor_landed_usd[i]) * m.motor_chosen[i] for i in m.MOTORS)
        + m.pack_bom_usd + m.lightweighting_cost_usd + d.fixed_bom_usd)
    m.price_usd = pyo.Expression(expr=d.price_per_bom * m.bom_usd)
    if d.price_cap_usd is not None:
        m.price_cap = pyo.Constraint(expr=m.price_usd <= d.price_cap_usd)
