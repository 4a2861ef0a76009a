"""Curb and test mass, and the test mass split onto the chosen pair.

`pair_mass[p]` equals the test mass for the chosen pair and 0 for the others (disaggregated big-M
with the pair's own tight bounds): this is what lets energy per km and the performance limits, each
linear in mass per pair, enter the model linearly.
"""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def add_mass(m, d: ModelData) -> None:
    m.curb_mass_kg = pyo.Expression(
        expr=pyo.quicksum(float(d.body_mass_kg[b]) * m.body_chosen[b] for b in m.BODIES)
        + pyo.quicksum(float(d.motor_mass_kg[i]) * m.motor_chosen[i] for i in m.MOTORS)
        + m.pack_mass_kg + d.fixed_mass_kg + m.content_mass_kg - m.lightweighting_kg)
    m.test_mass_kg = pyo.Expression(expr=m.curb_mass_kg + d.payload_kg)
    m.pair_mass = pyo.Var(m.PAIRS, within=pyo.NonNegativeReals, doc="test mass if the pair is chosen, else 0")
    m.pair_mass_split = pyo.Constraint(expr=pyo.quicksum(m.pair_mass[p] for p in m.PAIRS) == m.test_mass_kg)
    m.pair_mass_lo = pyo.Constraint(m.PAIRS, rule=lambda m, p: m.pair_mass[p] >= float(d.pair_mass_lo_kg[p]) * m.pair[p])
    m.pair_mass_hi = pyo.Constraint(m.PAIRS, rule=lambda m, p: m.pair_mass[p] <= float(d.pair_struct_hi_kg[p]) * m.pair[p])
