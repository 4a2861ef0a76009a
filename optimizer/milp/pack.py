"""The battery pack: which cell, how many strings in parallel, how many cells in series.

Exact linearization of the integer product series x parallel: one binary per (cell, parallel count)
layout, each gating its own integer series count (series = 0 unless its layout is chosen). Every
pack quantity (cells, energy, mass, volume, voltage, peak and continuous power, cost) is then a sum of layout series
counts with constant coefficients.
"""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def add_pack(m, d: ModelData) -> None:
    lay = range(len(d.layout_cell))
    cell, par = d.layout_cell, d.layout_parallel
    lo, hi = d.layout_series_lo, d.layout_series_hi
    m.LAYOUTS = pyo.Set(initialize=lay, ordered=True)
    m.layout = pyo.Var(m.LAYOUTS, within=pyo.Binary, doc="cell type and parallel count chosen")
    m.series = pyo.Var(m.LAYOUTS, within=pyo.NonNegativeIntegers, bounds=lambda _, i: (0, int(hi[i])),
                       doc="cells in series (0 unless the layout is chosen)")
    m.one_layout = pyo.Constraint(expr=pyo.quicksum(m.layout[i] for i in lay) == 1)
    m.series_gate_lo = pyo.Constraint(m.LAYOUTS, rule=lambda m, i: m.series[i] >= int(lo[i]) * m.layout[i])
    m.series_gate_hi = pyo.Constraint(m.LAYOUTS, rule=lambda m, i: m.series[i] <= int(hi[i]) * m.layout[i])

    def per_cell(values):  # sum over layouts of value(cell) x parallel x series
        return pyo.quicksum(float(values[cell[i]] * par[i]) * m.series[i] for i in lay)

    m.pack_cells = pyo.Expression(expr=pyo.quicksum(int(par[i]) * m.series[i] for i in lay))
    m.pack_energy_wh = pyo.Expression(expr=per_cell(d.cell_energy_wh))
    m.pack_mass_kg = pyo.Expression(expr=per_cell(d.cell_pack_mass_kg))
    m.pack_volume_l = pyo.Expression(expr=per_cell(d.cell_pack_volume_l))
    m.pack_peak_power_w = pyo.Expression(expr=per_cell(d.cell_peak_power_w))
    m.pack_continuous_power_w = pyo.Expression(expr=per_cell(d.cell_continuous_power_w))
    m.pack_charge_power_w = pyo.Expression(expr=per_cell(d.cell_charge_power_w))
    m.pack_bom_usd = pyo.Expression(expr=per_cell(d.cell_landed_usd + d.cell_integration_usd))
    m.pack_vmin_v = pyo.Expression(expr=pyo.quicksum(float(d.cell_vmin_v[cell[i]]) * m.series[i] for i in lay))
    m.pack_vmax_v = pyo.Expression(expr=pyo.quicksum(float(d.cell_vmax_v[cell[i]]) * m.series[i] for i in lay))
    by_cell: dict[int, list[int]] = {}
    for i in lay:
        by_cell.setdefault(int(cell[i]), []).append(i)
    m.CELLS = pyo.Set(initialize=sorted(by_cell), ordered=True)
    m.cell_chosen = pyo.Expression(m.CELLS, rule=lambda m, c: pyo.quicksum(m.layout[i] for i in by_cell[c]))
