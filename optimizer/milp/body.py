"""The body's battery space and the lightweighting bought out of the glider.

Lightweighting is a real decision on a convex piecewise-linear cost curve: one bounded variable per
segment, cheapest first. Because marginal cost rises, any optimum fills the segments in order (a
solution that does not can be rearranged at lower cost and equal mass), so no binaries are needed.
"""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def add_body(m, d: ModelData) -> None:
    m.pack_volume = pyo.Constraint(
        expr=m.pack_volume_l - m.slack["pack_volume_l"]
        <= pyo.quicksum(float(d.body_volume_l[b]) * m.body_chosen[b] for b in m.BODIES))


def add_lightweighting(m, d: ModelData) -> None:
    segs = range(len(d.lw_width_kg))
    m.SEGMENTS = pyo.Set(initialize=segs, ordered=True)
    m.lw = pyo.Var(m.SEGMENTS, bounds=lambda _, k: (0.0, float(d.lw_width_kg[k])), doc="kg removed in segment k")
    m.lightweighting_kg = pyo.Expression(expr=pyo.quicksum(m.lw[k] for k in segs))
    m.lightweighting_cost_usd = pyo.Expression(
        expr=pyo.quicksum(float(d.lw_cost_usd_per_kg[k]) * m.lw[k] for k in segs))
    m.lightweighting_limit = pyo.Constraint(
        expr=m.lightweighting_kg <= pyo.quicksum(float(d.body_lw_max_kg[b]) * m.body_chosen[b] for b in m.BODIES))
