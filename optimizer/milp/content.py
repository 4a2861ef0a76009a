"""Content options: one binary per option, one option per group (`model.content_chosen['heat_pump']`,
the decision a user's extend= sees by name), their cost and mass linear in the choice.

An option with an energy effect changes the chosen pair's Wh/km by delta_p(mass) = d0_p + d1_p x mass
(prepare/fit.py): as a product of the option's binary and the pair's choice, it enters energy per km
through one epigraph variable per option, exact for the chosen pair's test mass (`pair_mass`):

    e_o >= sum_p (d0_p pair_p + d1_p pair_mass_p) - M_o (1 - chosen_o)      e_o >= -M_o chosen_o

Only lower bounds are needed: max range maximises N - lambda x energy per km and min price's range
row reads N >= R_min x energy per km, so both want energy per km small, and e_o sits at its bound:
delta_p(mass) when the option is chosen and 0 when not (M_o >= |delta| over every pair's mass range,
computed in preparation). A solver may leave e_o above its bound only where that costs nothing; the
design is evaluated from the choice, not from e_o. Options' deltas add: the interaction of two
options (aero x tyres) is second order and the verification by simulation measures it.
"""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def add_content(m, d: ModelData) -> None:
    cd = d.content
    ids = [o.id for o in cd.options] if cd is not None else []
    m.CONTENT_OPTIONS = pyo.Set(initialize=ids, ordered=True, doc="content options (configs/catalog/content.toml)")
    m.content_chosen = pyo.Var(m.CONTENT_OPTIONS, within=pyo.Binary, doc="this content option is built in")
    groups = list(cd.groups) if cd is not None else []
    m.CONTENT_GROUPS = pyo.Set(initialize=groups, ordered=True)
    members = {g: [o.id for o in cd.options if o.group == g] for g in groups}
    m.one_option_per_group = pyo.Constraint(
        m.CONTENT_GROUPS, rule=lambda m, g: pyo.quicksum(m.content_chosen[o] for o in members[g]) == 1)
    idx = {o: i for i, o in enumerate(ids)}
    m.content_mass_kg = pyo.Expression(expr=pyo.quicksum(
        float(cd.option_mass_kg[idx[o]]) * m.content_chosen[o] for o in ids) if ids else 0.0)
    m.content_cost_usd = pyo.Expression(expr=pyo.quicksum(
        float(cd.option_cost_usd[idx[o]]) * m.content_chosen[o] for o in ids) if ids else 0.0)


def add_content_energy(m, d: ModelData) -> None:
    """After add_consumption: the energy options' deltas onto `energy_per_km`."""
    cd = d.content
    energy = list(cd.energy_options) if cd is not None else []
    names = [cd.options[i].id for i in energy]
    m.ENERGY_OPTIONS = pyo.Set(initialize=names, ordered=True)
    k_of = {n: k for k, n in enumerate(names)}
    big_m = {n: float(d.option_m_wh_per_km[k_of[n]]) for n in names}
    m.option_energy = pyo.Var(m.ENERGY_OPTIONS, bounds=lambda _, n: (-big_m[n], big_m[n]),
                              doc="Wh/km the option adds to the chosen pair at its test mass (0 if not chosen)")
    a, b = d.fit.option_intercept_wh_per_km, d.fit.option_slope_wh_per_km_per_kg

    def delta(m, n):
        k = k_of[n]
        return pyo.quicksum(float(a[p, k]) * m.pair[p] + float(b[p, k]) * m.pair_mass[p] for p in m.PAIRS)

    m.option_energy_on = pyo.Constraint(
        m.ENERGY_OPTIONS, rule=lambda m, n: m.option_energy[n] >= delta(m, n) - big_m[n] * (1 - m.content_chosen[n]))
    m.option_energy_off = pyo.Constraint(
        m.ENERGY_OPTIONS, rule=lambda m, n: m.option_energy[n] >= -big_m[n] * m.content_chosen[n])
    if names:
        m.energy_per_km.set_value(m.energy_per_km.expr + pyo.quicksum(m.option_energy[n] for n in names))
