"""Range as a ratio: label energy (numerator) over energy per km (denominator), both linear.

Denominator: the chosen pair's fitted Wh/km at the test mass, sum_p corr_p (a_p pair_p + k_p pair_mass_p)
(`correction` is a mutable Param, 1 until verification corrects a pair).

Numerator: range factor x usable fraction x (pack energy - resistive loss). To first order a pack of
N cells (energy e, resistance r, voltage v) on a pair with loss power P_eff delivers the range of
N - P_eff r / v^2 loss-free cells, so the loss is e r / v^2 x P_eff for the chosen cell: a product of
the cell choice and the pair choice, linearized exactly by splitting P_eff onto the chosen cell
(`loss_power[c]` = P_eff if cell c is chosen, else 0).
"""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def add_consumption(m, d: ModelData) -> None:
    fit = d.fit
    m.correction = pyo.Param(m.PAIRS, mutable=True, initialize=lambda _, p: float(d.correction[p]))
    m.energy_per_km = pyo.Expression(expr=pyo.quicksum(
        m.correction[p] * (float(fit.intercept_wh_per_km[p]) * m.pair[p] + float(fit.slope_wh_per_km_per_kg[p]) * m.pair_mass[p])
        for p in m.PAIRS))
    p_max = float(max(fit.loss_power_w.max(initial=0.0), 0.0))
    m.loss_power = pyo.Var(m.CELLS, bounds=(0.0, p_max), doc="the pair's P_eff if this cell is chosen, else 0 (W)")
    m.loss_split = pyo.Constraint(expr=pyo.quicksum(m.loss_power[c] for c in m.CELLS)
                                  == pyo.quicksum(float(fit.loss_power_w[p]) * m.pair[p] for p in m.PAIRS))
    m.loss_gate = pyo.Constraint(m.CELLS, rule=lambda m, c: m.loss_power[c] <= p_max * m.cell_chosen[c])
    m.range_energy_wh = pyo.Expression(expr=d.range_energy_factor * (
        m.pack_energy_wh - pyo.quicksum(float(d.cell_loss_wh_per_w[c]) * m.loss_power[c] for c in m.CELLS)))
