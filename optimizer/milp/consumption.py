"""Range as a ratio: label energy (numerator) over energy per km (denominator), both linear.

Denominator: the chosen pair's fitted Wh/km at the test mass, sum_p corr_p (a_p pair_p + k_p pair_mass_p).
`correction` is a mutable Param per pair: the factor every design of the pair gets until it is
simulated (1 with no verification; 1 / (1 + margin) during the certificate, solving/certificate.py).
A simulated design (pair, cell type, cell count) then gets the factor of its own
simulation, `add_design_correction`: the drift comes from what the fit leaves out of the cell
(charge acceptance clips regeneration, more so on a small pack), so it must be charged neither to
the pair's other cells nor to other pack sizes.

Charge acceptance: the pack absorbs at most its cells' charge power, and the regeneration above it is
lost. The pair's extra energy per km is convex in (test mass, pack charge power), measured and
linearized as planes in prepare/charge_limit.py; `charge_loss` >= every plane of the chosen pair
(one row per plane, summed over the pairs' disaggregated mass and charge power and the pair binary:
only the chosen pair's terms are nonzero). Both objectives want the energy per km small, so
`charge_loss` sits on the largest plane. It is part of the fit, but like the options' deltas no factor scales it.

Numerator: range factor x usable fraction x (pack energy - resistive loss). To first order a pack of
N cells (energy e, resistance r, voltage v) on a pair with loss power P_eff delivers the range of
N - P_eff r / v^2 loss-free cells, so the loss is e r / v^2 x P_eff for the chosen cell: a product of
the cell choice and the pair choice, linearized exactly by splitting P_eff onto the chosen cell
(`loss_power[c]` = P_eff if cell c is chosen, else 0).
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def _pair_energy(m, d: ModelData, p: int):
    """The pair's fitted Wh/km at its test mass (0 unless the pair is chosen), before any factor."""
    return float(d.fit.intercept_wh_per_km[p]) * m.pair[p] + float(d.fit.slope_wh_per_km_per_kg[p]) * m.pair_mass[p]


def add_consumption(m, d: ModelData) -> None:
    fit = d.fit
    m.correction = pyo.Param(m.PAIRS, mutable=True, initialize=lambda _, p: float(d.correction[p]))
    m.energy_per_km = pyo.Expression(expr=pyo.quicksum(m.correction[p] * _pair_energy(m, d, p) for p in m.PAIRS))
    _add_charge_loss(m, d)
    m.design_corrections = pyo.Block(doc="one small block per design (pair, cell, cells) simulated")
    p_max = float(max(fit.loss_power_w.max(initial=0.0), 0.0))
    m.loss_power = pyo.Var(m.CELLS, bounds=(0.0, p_max), doc="the pair's P_eff if this cell is chosen, else 0 (W)")
    m.loss_split = pyo.Constraint(expr=pyo.quicksum(m.loss_power[c] for c in m.CELLS)
                                  == pyo.quicksum(float(fit.loss_power_w[p]) * m.pair[p] for p in m.PAIRS))
    m.loss_gate = pyo.Constraint(m.CELLS, rule=lambda m, c: m.loss_power[c] <= p_max * m.cell_chosen[c])
    m.range_energy_wh = pyo.Expression(expr=d.range_energy_factor * (
        m.pack_energy_wh - pyo.quicksum(float(d.cell_loss_wh_per_w[c]) * m.loss_power[c] for c in m.CELLS)))


def add_design_correction(m, d: ModelData, pair: int, cell: int, cells: int) -> None:
    """Give the design (pair, cell type, cell count) the factor d.design_correction[...] in place of the
    pair's (any arrangement of that many cells simulates alike, ModelData.design_key).

    The energy per km gains (factor - pair factor) x w, with w >= the pair's fitted energy when this
    cell is chosen in exactly this number, else >= 0 (w is only bounded below: both objectives want
    the energy per km small, max range as N - lambda D with lambda > 0, min price through N >= R D, so
    a surcharge needs nothing more). "Exactly this number" is |cells - n| < 1, written with one binary
    that picks the side (cells <= n or cells >= n) whose bound is relaxed. Calling it again for the
    same design updates the factor (a mutable Param)."""
    name = f"p{pair}_c{cell}_n{cells}"
    blk = m.design_corrections
    b = blk.find_component(name)
    if b is None:
        e_max = max(float(d.fit.intercept_wh_per_km[pair] + d.fit.slope_wh_per_km_per_kg[pair] * d.pair_struct_hi_kg[pair]), 0.0)
        big = e_max * (float((d.layout_parallel * d.layout_series_hi).max()) + 2.0)   # beyond any cell count
        b = pyo.Block()
        blk.add_component(name, b)
        b.w = pyo.Var(bounds=(0.0, e_max), doc="the pair's fitted Wh/km if this is the design, else 0")
        b.side = pyo.Var(within=pyo.Binary, doc="1: cells <= n may be relaxed (the design has more cells)")
        b.delta = pyo.Param(mutable=True, initialize=0.0, doc="design factor - pair factor (>= 0)")
        on = _pair_energy(m, d, pair) - e_max * (1 - m.cell_chosen[cell])
        b.above = pyo.Constraint(expr=b.w >= on - e_max * (m.pack_cells - cells) - big * b.side)
        b.below = pyo.Constraint(expr=b.w >= on - e_max * (cells - m.pack_cells) - big * (1 - b.side))
        m.energy_per_km.set_value(m.energy_per_km.expr + b.delta * b.w)
    b.delta.set_value(max(float(d.design_correction[(pair, cell, cells)] - d.correction[pair]), 0.0))


def _add_charge_loss(m, d: ModelData) -> None:
    a, b, c = d.fit.charge_a_wh_per_km_per_kg, d.fit.charge_b_wh_per_km_per_w, d.fit.charge_c_wh_per_km  # (pairs, planes)
    if a is None or not len(d.layout_cell):
        return
    # A plane with a, b, c <= 0 is <= 0 for every mass and charge power: charge_loss >= 0 covers it.
    planes = [j for j in range(a.shape[1]) if np.any(a[:, j] > 0) or np.any(b[:, j] > 0) or np.any(c[:, j] > 0)]
    if not planes:
        return
    p_max = float((d.layout_parallel * d.layout_series_hi * d.cell_charge_power_w[d.layout_cell]).max())
    m.pair_charge_w = pyo.Var(m.PAIRS, bounds=(0.0, p_max), doc="the pack's charge power if the pair is chosen, else 0")
    m.pair_charge_split = pyo.Constraint(expr=pyo.quicksum(m.pair_charge_w[p] for p in m.PAIRS) == m.pack_charge_power_w)
    m.pair_charge_gate = pyo.Constraint(m.PAIRS, rule=lambda m, p: m.pair_charge_w[p] <= p_max * m.pair[p])
    m.charge_loss = pyo.Var(within=pyo.NonNegativeReals, doc="Wh/km the charge limit adds (chosen pair)")
    m.CHARGE_PLANES = pyo.Set(initialize=planes, ordered=True)
    m.charge_loss_plane = pyo.Constraint(m.CHARGE_PLANES, rule=lambda m, j: m.charge_loss >= pyo.quicksum(
        float(a[p, j]) * m.pair_mass[p] + float(b[p, j]) * m.pair_charge_w[p] + float(c[p, j]) * m.pair[p]
        for p in m.PAIRS))
    m.energy_per_km.set_value(m.energy_per_km.expr + m.charge_loss)
