"""A solution as people read it (text) and as programs read it (one JSON object)."""
from __future__ import annotations

from kei.optimizer.answers.design import Design
from kei.optimizer.answers.solution import Solution

UNITS = {"max_range": "km", "min_price": "USD"}


def design_json(sol: Solution, x: Design) -> dict:
    objective_value = x.range_km if sol.problem.objective == "max_range" else x.price_usd
    low, high = sol.problem.price.price_band_usd(x.price_usd)
    return {"objective_value": round(objective_value, 3), **x.to_dict(),
            # The real price this model price stands for, within the price calibration's residuals.
            "price_band_usd": [round(low, 2), round(high, 2)], "cycle": sol.data.cycle.name}


def solution_json(sol: Solution, design_file: str | None = None) -> dict:
    d = sol.data
    best = design_json(sol, sol.best)
    return {
        "status": "optimal",
        "problem": sol.problem.name,
        "objective": sol.problem.objective,
        **best,
        "price_cap_usd": d.price_cap_usd,
        "min_range_km": d.min_range_km,
        "regulatory_profile": sol.problem.limits.profile,
        "price_model": sol.problem.price.name,
        "solve_seconds": round(sol.seconds["total"], 4),
        "timings_s": {k: round(v, 4) for k, v in sol.seconds.items()},
        "gap": sol.gap,
        "milps": sol.milps,
        "corrections": sol.corrections,
        "certificate": sol.certificate,
        "design_space": d.design_space_size,
        "screened_design_space": d.screened_space_size,
        "pairs": d.n_pairs,
        "fit_max_error": round(float(d.fit.max_rel_error.max(initial=0.0)), 6),
        "design_file": design_file,
        "designs": [{"rank": i + 1, **design_json(sol, x)} for i, x in enumerate(sol.designs)],
        "notes": sol.notes,
        "user_constraints": sol.user_constraints,
    }


def site_lines_text(x: Design) -> list[str]:
    """The assembly site, the duty and credit by line, and the same parts at the other sites."""
    out = [f"  assembly site  {x.site}"]
    for y in x.duties:
        out.append(f"    duty         {y['line']}: {y['rate']:.1%} of ${y['base_usd']:,.0f} = ${y['amount_usd']:,.0f} "
                   f"({y['rule']})")
    if not x.duties:
        out.append("    duty         none")
    for y in x.credits:
        out.append(f"    credit       {y['line']}: ${y['rate_usd_per_kwh']:g}/kWh = ${y['amount_usd']:,.0f}")
    others = [y for y in x.other_sites if y["price_usd"] is not None]
    if others:
        nxt = others[0]
        out.append(f"    next site    {nxt['site']} at ${nxt['price_usd']:,.0f} for the same parts "
                   f"(+${nxt['price_usd'] - x.price_usd:,.0f}); all: " + ", ".join(
                       f"{y['site']} ${y['price_usd']:,.0f}" if y["price_usd"] is not None else f"{y['site']} (content rule fails)"
                       for y in x.other_sites))
    return out


def content_text(x) -> list[str]:
    """The content lines: what the profile requires by standard (added, or in the glider already),
    what comes in a later model year, and the options the MILP chose."""
    c = x.content
    if not c:
        return []
    out = [f"  content        {c['profile']} requires, model year {c['model_year']}: ${c['required_added_cost_usd']:,.0f} and "
           f"{c['required_added_mass_kg']:.1f} kg added (before duty and RPE)"
           + (f"; {c['profile_description']}" if c.get("profile_description") else "")]
    for r in c["required"]:
        where = "in the glider" if r["in_glider"] else "added"
        out.append(f"    {r['standard']:<16} {r['id']}: ${r['cost_usd']:,.0f}, {r['mass_kg']:.1f} kg ({where})")
    for r in c["pending"]:
        out.append(f"    {r['standard']:<16} {r['id']}: ${r['cost_usd']:,.0f}, {r['mass_kg']:.1f} kg "
                   f"(from model year {r['from_model_year']}, not yet)")
    chosen = ", ".join(f"{o['group']} {o['id']}" + (f" ${o['cost_usd']:,.0f} {o['mass_kg']:.1f} kg" if o["cost_usd"] or o["mass_kg"]
                                                     else "") for o in c["options"])
    if chosen:
        out.append(f"    options (climate {c['climate']}): {chosen}; Cd A x {c['drag_area_scale']:g}, Crr x "
                   f"{c['crr_scale']:g}, auxiliary {c['auxiliary_power_w']:+.0f} W")
    return out


def solution_text(sol: Solution, design_file: str | None = None) -> str:
    p, d, x = sol.problem, sol.data, sol.best
    cap = f", price cap ${d.price_cap_usd:,.0f}" if d.price_cap_usd is not None else ""
    need = f", at least {d.min_range_km:g} km" if d.min_range_km is not None else ""
    lines = [f"{p.name}: {p.objective.replace('_', ' ')} on {d.cycle.name}{cap}{need} "
             f"({p.limits.profile} limits, {p.price.name} prices)"]
    band = (f", 90 % band {x.verified_band['range_km_p05']:.0f}-{x.verified_band['range_km_p95']:.0f} km"
            if x.verified_band else "")
    verified = (f" (simulated {x.verified_range_km:.1f} km{band}, model {x.drift:+.2%})" if x.verified_range_km is not None
                else " (not verified)")
    lines.append(f"  range          {x.range_km:.1f} km{verified}")
    low, high = p.price.price_band_usd(x.price_usd)
    lines.append(f"  price          ${x.price_usd:,.0f} (${low:,.0f}-${high:,.0f} with the calibration's residuals)")
    lines.append(f"  battery        {x.cell.id} ({x.cell.name}, {x.cell.chemistry} {x.cell.format}) {x.series}s{x.parallel}p"
                 f" = {x.cells} cells, {x.pack_energy_wh / 1000:.2f} kWh, {x.pack_voltage_v:.0f} V "
                 f"({x.pack_voltage_range_v[0]:.0f}-{x.pack_voltage_range_v[1]:.0f} V), {x.pack_mass_kg:.0f} kg, "
                 f"{x.pack_volume_l:.0f} L, {x.pack_peak_power_w / 1000:.0f} kW peak ({x.cell.peak_discharge_c:g}C) / "
                 f"{x.pack_continuous_power_w / 1000:.0f} kW continuous ({x.cell.max_discharge_c:g}C)")
    lines.append(f"  motor          {x.motor.id} ({x.motor.name}): {x.motor.peak_power_kw:g} kW peak, "
                 f"{x.motor.continuous_power_kw:g} kW continuous, {x.motor.peak_torque_nm:g} N m")
    b = x.body
    lines.append(f"  body           {b.id} ({b.name}, {b.material}): {b.length_m:.3f} x {b.width_m:.3f} x "
                 f"{b.height_m:.3f} m, Cd {b.drag_coefficient:g}, A {b.frontal_area_m2:g} m2")
    mk = x.mass_kg
    lines.append(f"  mass           curb {x.curb_mass_kg:,.0f} kg = glider {mk['glider']:.0f} - lightweighting "
                 f"{-mk['lightweighting']:.1f} + drive unit {mk['drive_unit']:.0f} + pack {mk['battery_pack']:.0f} "
                 f"+ fixed content {mk['fixed_content']:.0f} + required content {mk.get('required_content', 0.0):.1f} "
                 f"+ content options {mk.get('content_options', 0.0):.1f}; test mass {x.test_mass_kg:,.0f} kg "
                 f"(payload {mk['payload']:.0f})")
    pr = x.price
    pm = p.price
    lines.append(f"  price build-up retail ${pr['retail']:,.0f} = BOM ${pr['bom_total']:,.0f} x {pm.retail_price_equivalent:g} "
                 f"(RPE) x {1 + pm.sales_tax_rate:g} (tax); BOM: glider ${pr['bom_glider']:,.0f}, drive unit "
                 f"${pr['bom_drive_unit']:,.0f}, cells ${pr['bom_cells']:,.0f}, pack integration "
                 f"${pr['bom_pack_integration']:,.0f}, lightweighting ${pr['bom_lightweighting']:,.0f}, fixed content "
                 f"${pr['bom_fixed_content']:,.0f}, required content ${pr.get('bom_required_content', 0.0):,.0f}, "
                 f"content options ${pr.get('bom_content_options', 0.0):,.0f}, assembly ${pr['bom_assembly']:,.0f}, duties ${pr['duties']:,.0f}"
                 + (f", credits ${pr['credits']:,.0f}" if pr['credits'] else ""))
    lines.extend(site_lines_text(x))
    lines.extend(content_text(x))
    sim = f", simulated {x.verified_wh_per_km:.1f}" if x.verified_wh_per_km is not None else ""
    lines.append(f"  energy         {x.energy_wh_per_km:.1f} Wh/km at the pack (model{sim}); energy fit error "
                 f"{x.fit_error:.2%} (worst pair {float(d.fit.max_rel_error.max(initial=0)):.2%})")
    if x.binding:
        lines.append("  binding        " + "\n                 ".join(f"{c['name']}: {c['text']}" for c in x.binding))
    else:
        lines.append("  binding        none (the discrete choice of parts limits the design)")
    s = sol.seconds
    gap = f"gap {sol.gap:.1e}" if sol.gap is not None else "gap n/a"
    lines.append(f"  solved         {s['total']:.2f} s (prepare {s['prepare']:.2f}, build {s['build']:.2f}, solve "
                 f"{s['solve']:.2f}, verify {s['verify']:.2f}); {sol.milps} MILPs, {gap}, "
                 f"{sol.corrections} simulations; design space {d.design_space_size:.2e} combinations "
                 f"({d.screened_space_size:.2e} after screening, {d.n_pairs} motor x body pairs)")
    c = sol.certificate
    if c is not None:
        lines.append(f"  certificate    {'proven' if c['proven'] else 'NOT proven'}: {c['simulations']} designs simulated, every "
                     f"design whose bound (fit + {c['margin_max']:.2%}) beat the answer among them"
                     + ("" if c["proven"] else f"; premise violated by {max(c['premise_violations'], default=0):.2%} or "
                        "max_simulations reached (configs/solver.toml)"))
    if len(sol.designs) > 1:
        bats = [f"{y.cell.id} {y.series}s{y.parallel}p {y.pack_energy_wh / 1000:.1f} kWh" for y in sol.designs]
        wb, wm = max(map(len, bats)), max(len(y.motor.id) for y in sol.designs)
        lines.append("")
        wbody = max(len(y.body.id) for y in sol.designs)
        lines.append(f"  {'#':>2} {'range km':>9} {'simulated':>9} {'price $':>9}  {'battery':<{wb}}  {'motor':<{wm}}  "
                     f"{'body':<{wbody}}  site")
        for i, (y, bat) in enumerate(zip(sol.designs, bats), 1):
            sim_km = f"{y.verified_range_km:9.1f}" if y.verified_range_km is not None else f"{'-':>9}"
            lines.append(f"  {i:>2} {y.range_km:9.1f} {sim_km} {y.price_usd:9,.0f}  {bat:<{wb}}  {y.motor.id:<{wm}}  "
                         f"{y.body.id:<{wbody}}  {y.site}")
    for note in sol.notes:
        lines.append(f"  note: {note}")
    if design_file:
        lines.append(f"  design file    {design_file} (kei simulate {design_file} --cycle {d.cycle.name})")
    return "\n".join(lines)
