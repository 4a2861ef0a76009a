"""Where the car is built: one binary per assembly site, and the car's cost at the chosen site.

For a fixed site the car's cost is linear in the part choices (prepare/sites.py), so the product
site x cost is linearised exactly by disaggregation: one cost variable per site, equal to the cost
of the design at that site when the site is chosen and 0 otherwise, held by big-M rows whose M are
the cost's bounds over every choice the MILP can make (computed in preparation):

    site_cost[s] >= cost_s(x) - hi_s (1 - y_s)      site_cost[s] <= cost_s(x) - lo_s (1 - y_s)
    0 <= site_cost[s] <= hi_s y_s

A site with a regional-value-content rule (USMCA's 75 %) is open only to designs meeting it:
rvc_s(x) <= rvc_hi_s (1 - y_s), and the battery, a core part, meets its own share likewise.
`model.site_chosen['MX']` is the decision a user's extend= sees.
"""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def site_cost_expr(m, d: ModelData, s: int, table: str = "") -> pyo.Expression:
    """cost_s(x) (or its RVC row with table="rvc_") as a linear expression of the part choices."""
    sd = d.sites
    body, motor, cell = (getattr(sd, f"{table}body" if table else "body_usd"),
                         getattr(sd, f"{table}motor" if table else "motor_usd"),
                         getattr(sd, f"{table}cell" if table else "cell_usd"))
    lw, fixed = (sd.rvc_lw, sd.rvc_fixed) if table else (sd.lw_factor, sd.fixed_usd)
    lay_cell, par = d.layout_cell, d.layout_parallel
    return (pyo.quicksum(float(body[s, b]) * m.body_chosen[b] for b in m.BODIES)
            + pyo.quicksum(float(motor[s, i]) * m.motor_chosen[i] for i in m.MOTORS)
            + pyo.quicksum(float(cell[s, lay_cell[i]] * par[i]) * m.series[i] for i in m.LAYOUTS)
            + float(lw[s]) * (m.lightweighting_cost_usd + m.content_cost_usd) + float(fixed[s]))


def add_site(m, d: ModelData) -> None:
    sd = d.sites
    names = sd.names
    m.SITES = pyo.Set(initialize=names, ordered=True, doc="assembly sites of the price model")
    m.site_chosen = pyo.Var(m.SITES, within=pyo.Binary, doc="the car is assembled at this site")
    m.one_site = pyo.Constraint(expr=pyo.quicksum(m.site_chosen[s] for s in names) == 1)
    idx = {name: i for i, name in enumerate(names)}
    m.site_cost_usd = pyo.Var(m.SITES, bounds=lambda _, s: (0.0, float(max(sd.cost_hi_usd[idx[s]], 0.0))),
                              doc="the car's cost (factory + vehicle duty - credit) if built at this site, else 0")
    cost = {s: site_cost_expr(m, d, idx[s]) for s in names}
    hi = {s: float(sd.cost_hi_usd[idx[s]]) for s in names}
    lo = {s: float(sd.cost_lo_usd[idx[s]]) for s in names}
    m.site_cost_lo = pyo.Constraint(m.SITES, rule=lambda m, s: m.site_cost_usd[s] >= cost[s] - hi[s] * (1 - m.site_chosen[s]))
    m.site_cost_hi = pyo.Constraint(m.SITES, rule=lambda m, s: m.site_cost_usd[s] <= cost[s] - lo[s] * (1 - m.site_chosen[s]))
    m.site_cost_gate = pyo.Constraint(m.SITES, rule=lambda m, s: m.site_cost_usd[s] <= hi[s] * m.site_chosen[s])
    rvc = [s for s in names if sd.has_rvc[idx[s]]]
    m.RVC_SITES = pyo.Set(initialize=rvc, ordered=True)
    m.regional_content = pyo.Constraint(
        m.RVC_SITES, rule=lambda m, s: site_cost_expr(m, d, idx[s], "rvc_")
        <= float(max(sd.rvc_hi[idx[s]], 0.0)) * (1 - m.site_chosen[s]))
    core = [s for s in names if sd.has_core[idx[s]]]
    m.CORE_SITES = pyo.Set(initialize=core, ordered=True)
    m.battery_regional_content = pyo.Constraint(
        m.CORE_SITES, rule=lambda m, s: pyo.quicksum(float(sd.core_cell[idx[s], d.layout_cell[i]] * d.layout_parallel[i])
                                                     * m.series[i] for i in m.LAYOUTS)
        <= float(max(sd.core_hi[idx[s]], 0.0)) * (1 - m.site_chosen[s]))
    m.car_cost_usd = pyo.Expression(expr=pyo.quicksum(m.site_cost_usd[s] for s in names))
