"""The assembly site as numbers: per site, what each part choice adds to the car's cost there.

For a fixed site s the car's cost (factory cost + vehicle duty - manufacturing credit, the BOM the
price model multiplies by the RPE) is linear in the part choices:

    cost_s = body_usd[s, body] + motor_usd[s, motor] + cells x cell_usd[s, cell]
             + lw_factor[s] x (lightweighting cost + content options' cost) + fixed_usd[s]

with, for a site whose vehicle duty rate is r and whose exempt origins (USMCA: US content) are
deducted from the dutiable value,

    body_usd  = base glider cost x cost_index x (1 + r)                 (the glider is built at the site)
    motor_usd = cost x (1 + part duty) x (1 + r) - r x cost [exempt origin]
    cell_usd  = (cell cost x (1 + part duty) + integration) x (1 + r) - r x cell cost [exempt origin]
                - credit per cell (45X: cells made in the credit country, modules assembled there)
    fixed_usd = (fixed content + required content lines + final assembly) x (1 + r)

Content (required lines, options: prepare/content.py) is bought-in parts: the site's vehicle duty
applies to it, its glider cost index does not, and it counts as regional content as the fixed
content does (estimate: airbag, sensor and lamp suppliers have plants in each region).

Part duties apply where the site is in the market (a car built at home imports its parts); a car
built abroad pays the vehicle duty on its dutiable value instead (its parts enter the site under the
site's export-manufacturing programmes, not modelled). The MILP picks one site (optimizer/milp/site.py,
exact big-M disaggregation with the bounds computed here); `site_lines` gives the same cost by line
for the report. A site with a regional-value-content rule (USMCA 75 %) is open only to designs that
meet it: rvc_* hold non-regional content - (1 - share) x factory cost, which must be <= 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kei.optimizer.inputs.price_model import PriceModel, Site


@dataclass(frozen=True)
class SiteData:
    names: tuple[str, ...]
    body_usd: np.ndarray        # (sites, bodies)
    motor_usd: np.ndarray       # (sites, motors)
    cell_usd: np.ndarray        # (sites, cells): per cell, landed + integration + duty - credit
    lw_factor: np.ndarray       # (sites,): multiplies the lightweighting cost
    fixed_usd: np.ndarray       # (sites,)
    cost_lo_usd: np.ndarray     # (sites,): bounds of cost_s over every choice the MILP can make (big-M)
    cost_hi_usd: np.ndarray
    rvc_body: np.ndarray        # (sites, bodies) ... regional-value-content row (<= 0 when the site is chosen)
    rvc_motor: np.ndarray
    rvc_cell: np.ndarray
    rvc_lw: np.ndarray          # (sites,)
    rvc_fixed: np.ndarray
    rvc_hi: np.ndarray          # (sites,): the row's largest value (big-M); <= 0: the rule never binds
    has_rvc: np.ndarray         # (sites,) bool
    core_cell: np.ndarray       # (sites, cells): the battery's own content row per cell (<= 0 when chosen)
    core_hi: np.ndarray         # (sites,): its largest value (big-M)
    has_core: np.ndarray        # (sites,) bool

    def index(self, name: str) -> int:
        return self.names.index(name)


def _part_duty(pm: PriceModel, site: Site, origin: str, part: str, *, cell: bool = False) -> float:
    return pm.tariff_rate(origin, part=part, cell=cell) if site.country == pm.market else 0.0


def _credit_per_cell(pm: PriceModel, site: Site, cell, energy_kwh: float) -> float:
    if not pm.apply_manufacturing_credit:
        return 0.0
    credit = pm.cell_credit_usd_per_kwh * energy_kwh if cell.origin == pm.credit_country else 0.0
    if site.country == pm.credit_country:   # the pack (its modules) is assembled at the site
        credit += pm.module_credit_usd_per_kwh * energy_kwh
    return credit


def prepare_sites(pm: PriceModel, bodies, motors, cells, integration_usd: np.ndarray, lw_cost_max_usd: float,
                  max_cells_by_cell: np.ndarray, content_usd: float = 0.0,
                  option_cost_range_usd: tuple[float, float] = (0.0, 0.0)) -> SiteData:
    """Per-site cost coefficients for the kept parts. `integration_usd` is pack integration per cell;
    `max_cells_by_cell` the most cells of each type any layout holds (for the big-M bounds)."""
    sites = pm.open_sites
    S = len(sites)
    body_base = np.array([b.cost_usd for b in bodies], dtype=float)
    motor_cost = np.array([m.cost_usd for m in motors], dtype=float)
    cell_cost = np.array([c.cost_usd for c in cells], dtype=float)
    cell_kwh = np.array([c.energy_wh for c in cells], dtype=float) / 1000.0
    shape = lambda n: np.zeros((S, n))  # noqa: E731
    body, motor, cell = shape(len(bodies)), shape(len(motors)), shape(len(cells))
    rb, rm, rc = shape(len(bodies)), shape(len(motors)), shape(len(cells))
    lwf, fixed, rlw, rfixed = np.ones(S), np.zeros(S), np.zeros(S), np.zeros(S)
    has_rvc = np.zeros(S, dtype=bool)
    core, has_core = shape(len(cells)), np.zeros(S, dtype=bool)
    for s, site in enumerate(sites):
        r = site.vehicle_duty_rate
        exempt = set(site.duty_exempt_origins)
        glider = body_base * site.cost_index
        body[s] = glider * (1 + r)
        m_duty = np.array([_part_duty(pm, site, m.origin, m.id) for m in motors])
        m_ex = np.array([m.origin in exempt for m in motors], dtype=float)
        motor[s] = motor_cost * (1 + m_duty) * (1 + r) - r * motor_cost * m_ex
        c_duty = np.array([_part_duty(pm, site, c.origin, c.id, cell=True) for c in cells])
        c_ex = np.array([c.origin in exempt for c in cells], dtype=float)
        credit = np.array([_credit_per_cell(pm, site, c, k) for c, k in zip(cells, cell_kwh)])
        cell[s] = (cell_cost * (1 + c_duty) + integration_usd) * (1 + r) - r * cell_cost * c_ex - credit
        lwf[s] = 1 + r
        fixed[s] = (pm.fixed_content_cost_usd + content_usd + site.assembly_cost_usd) * (1 + r)
        share = site.regional_value_content_min
        if share > 0:
            has_rvc[s] = True
            regional = set(site.regional_origins) | {site.country}
            keep = 1.0 - share
            m_reg = np.array([m.origin in regional for m in motors], dtype=float)
            c_reg = np.array([c.origin in regional for c in cells], dtype=float)
            rb[s] = -keep * glider
            rm[s] = motor_cost * (1 - m_reg) - keep * motor_cost * (1 + m_duty)
            rc[s] = cell_cost * (1 - c_reg) - keep * (cell_cost * (1 + c_duty) + integration_usd)
            rlw[s] = -keep
            rfixed[s] = -keep * (pm.fixed_content_cost_usd + content_usd + site.assembly_cost_usd)
        if site.battery_regional_value_content_min > 0:   # USMCA core part: the battery meets the rule itself
            has_core[s] = True
            regional = set(site.regional_origins) | {site.country}
            c_reg = np.array([c.origin in regional for c in cells], dtype=float)
            keep = 1.0 - site.battery_regional_value_content_min
            core[s] = cell_cost * (1 - c_reg) - keep * (cell_cost * (1 + c_duty) + integration_usd)
    n_max = np.asarray(max_cells_by_cell, dtype=float)
    pack_hi = (np.maximum(cell, 0.0) * n_max[None, :]).max(axis=1, initial=0.0)
    pack_lo = (np.minimum(cell, 0.0) * n_max[None, :]).min(axis=1, initial=0.0)
    opt_lo, opt_hi = option_cost_range_usd
    hi = (body.max(axis=1, initial=0.0) + motor.max(axis=1, initial=0.0) + pack_hi + lwf * (lw_cost_max_usd + opt_hi)
          + fixed)
    lo = body.min(axis=1, initial=0.0) + motor.min(axis=1, initial=0.0) + pack_lo + lwf * min(opt_lo, 0.0) + fixed
    rvc_hi = (np.maximum(rb.max(axis=1, initial=0.0), 0.0) + np.maximum(rm.max(axis=1, initial=0.0), 0.0)
              + np.maximum(rlw * min(opt_lo, 0.0), 0.0)
              + (np.maximum(rc, 0.0) * n_max[None, :]).max(axis=1, initial=0.0) + np.maximum(rfixed, 0.0))
    return SiteData(names=tuple(s.name for s in sites), body_usd=body, motor_usd=motor, cell_usd=cell, lw_factor=lwf,
                    fixed_usd=fixed, cost_lo_usd=lo, cost_hi_usd=hi, rvc_body=rb, rvc_motor=rm,
                    rvc_cell=rc, rvc_lw=rlw, rvc_fixed=rfixed, rvc_hi=rvc_hi, has_rvc=has_rvc, core_cell=core,
                    core_hi=(np.maximum(core, 0.0) * n_max[None, :]).max(axis=1, initial=0.0), has_core=has_core)


def site_cost_usd(sd: SiteData, s: int, body: int, motor: int, cell: int, n_cells: int, lw_cost_usd: float,
                  options_usd: float = 0.0) -> float:
    return float(sd.body_usd[s, body] + sd.motor_usd[s, motor] + n_cells * sd.cell_usd[s, cell]
                 + sd.lw_factor[s] * (lw_cost_usd + options_usd) + sd.fixed_usd[s])


def site_meets_rvc(sd: SiteData, s: int, body: int, motor: int, cell: int, n_cells: int, lw_cost_usd: float,
                   tol_usd: float = 1e-6, options_usd: float = 0.0) -> bool:
    if sd.has_core[s] and n_cells * sd.core_cell[s, cell] > tol_usd:
        return False
    if not sd.has_rvc[s]:
        return True
    row = (sd.rvc_body[s, body] + sd.rvc_motor[s, motor] + n_cells * sd.rvc_cell[s, cell]
           + sd.rvc_lw[s] * (lw_cost_usd + options_usd) + sd.rvc_fixed[s])
    return bool(row <= tol_usd)


def site_lines(pm: PriceModel, site: Site, body, motor, cell, n_cells: int, integration_usd_per_cell: float,
               lw_cost_usd: float, required_content_usd: float = 0.0, options_usd: float = 0.0) -> dict:
    """The car's cost at `site` by line: the BOM lines, each duty line (what it is charged on, its rate,
    base, amount and the rule that sets it) and the credits. Sums to site_cost_usd."""
    kwh = n_cells * cell.energy_wh / 1000.0
    glider = body.cost_usd * site.cost_index
    cells_cost = n_cells * cell.cost_usd
    integration = n_cells * integration_usd_per_cell
    bom = {"glider": glider, "drive_unit": motor.cost_usd, "cells": cells_cost, "pack_integration": integration,
           "lightweighting": lw_cost_usd, "fixed_content": pm.fixed_content_cost_usd,
           "required_content": required_content_usd, "content_options": options_usd, "assembly": site.assembly_cost_usd}
    duties = []
    if site.country == pm.market:
        for what, part, origin, base, is_cell in (("drive unit", motor.id, motor.origin, motor.cost_usd, False),
                                                  ("cells", cell.id, cell.origin, cells_cost, True)):
            rate = pm.tariff_rate(origin, part=part, cell=is_cell)
            if rate:
                duties.append({"line": f"{what} ({part}, made in {origin})", "rate": rate, "base_usd": base,
                               "amount_usd": rate * base, "rule": pm.tariff_rule(origin, cell=is_cell)})
    factory = sum(bom.values()) + sum(x["amount_usd"] for x in duties)
    vehicle_duty = 0.0
    if site.vehicle_duty_rate:
        exempt = [(what, base) for what, origin, base in (("drive unit", motor.origin, motor.cost_usd),
                                                          ("cells", cell.origin, cells_cost))
                  if origin in site.duty_exempt_origins]
        base = factory - sum(b for _, b in exempt)
        less = "; less " + ", ".join(f"{w} ${b:,.0f}" for w, b in exempt) if exempt else ""
        vehicle_duty = site.vehicle_duty_rate * base
        duties.append({"line": f"vehicle assembled in {site.country} (factory cost ${factory:,.0f}{less})",
                       "rate": site.vehicle_duty_rate, "base_usd": base, "amount_usd": vehicle_duty,
                       "rule": site.vehicle_duty_rule})
    credits = []
    if pm.apply_manufacturing_credit:
        if cell.origin == pm.credit_country and pm.cell_credit_usd_per_kwh:
            credits.append({"line": f"cells made in {cell.origin} ({kwh:.2f} kWh)", "rate_usd_per_kwh": pm.cell_credit_usd_per_kwh,
                            "amount_usd": -pm.cell_credit_usd_per_kwh * kwh})
        if site.country == pm.credit_country and pm.module_credit_usd_per_kwh:
            credits.append({"line": f"modules assembled in {site.country} ({kwh:.2f} kWh)",
                            "rate_usd_per_kwh": pm.module_credit_usd_per_kwh, "amount_usd": -pm.module_credit_usd_per_kwh * kwh})
    total = factory + vehicle_duty + sum(x["amount_usd"] for x in credits)
    return {"site": site.name, "country": site.country, "bom": bom, "duties": duties, "credits": credits,
            "factory_cost_usd": factory, "total_usd": total}
