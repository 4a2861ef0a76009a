"""A design: the discrete choice the MILP made, evaluated in plain Python, and its vehicle file.

`evaluate(data, choice)` recomputes every figure (mass, price, range) from the model data without
Pyomo, so reports and the oracle never depend on solver round-off, and lightweighting is costed on
the true curve (segments filled in order).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from kei.optimizer.inputs.parts import BodySpec, CellSpec, MotorSpec
from kei.optimizer.prepare.model_data import PERF_NAMES, ModelData
from kei.optimizer.prepare.sites import site_cost_usd, site_lines, site_meets_rvc
from kei.vehicle.files import Vehicle, vehicle_from_dict

SOLVER_LABEL = "kei solve: MILP (Pyomo + HiGHS via highspy), Dinkelbach on range, verified by simulation"


@dataclass(frozen=True)
class Choice:
    layout: int          # index into the data's layouts (cell, parallel)
    series: int
    pair: int            # index into the data's motor x body pairs
    lightweighting_kg: float
    site: int = 0        # index into the data's sites (d.sites.names)
    options: tuple[int, ...] = ()  # content options chosen, indices into d.content.options (one per group)

    def parts_key(self, d: ModelData) -> tuple[str, str, str]:
        """What makes two designs distinct for --top K: the parts (cell, motor, body)."""
        return (d.cells[d.layout_cell[self.layout]].id, d.motors[d.pair_motor[self.pair]].id,
                d.bodies[d.pair_body[self.pair]].id)


@dataclass
class Design:
    choice: Choice
    cell: CellSpec
    parallel: int
    series: int
    motor: MotorSpec
    body: BodySpec
    pack_energy_wh: float
    pack_voltage_v: float
    pack_voltage_range_v: tuple[float, float]
    pack_mass_kg: float
    pack_volume_l: float
    pack_peak_power_w: float        # terminal, at the cells' pulse rate
    pack_continuous_power_w: float  # terminal, at the cells' continuous rate
    continuous_need_w: dict         # pack power each continuous need draws at the test mass (data.CONTINUOUS_NAMES)
    lightweighting_kg: float
    curb_mass_kg: float
    test_mass_kg: float
    mass_kg: dict          # breakdown of the curb mass (+ payload for the test mass)
    price_usd: float
    price: dict            # breakdown, USD
    energy_wh_per_km: float         # linear model at the test mass, chemical (incl. the pack's resistive loss)
    range_km: float                 # the model's (predicted) range
    perf_mass_limit_kg: float
    perf_limit: str
    fit_error: float
    verified_range_km: float | None = None
    verified_wh_per_km: float | None = None
    trace_miss_s: float | None = None
    simulation: object = field(default=None, repr=False, compare=False)  # the verifying SimResult, if any
    valid_test: bool | None = None                     # the simulation is a valid test of the problem's procedure
    model_drift: float | None = None  # the plain fit's range / simulated - 1: what the design's correction took out
    binding: list = field(default_factory=list)
    site: str = ""                  # where the car is assembled (a site of the price model)
    duties: list = field(default_factory=list)    # duty by line: line, rate, base_usd, amount_usd, rule
    credits: list = field(default_factory=list)   # manufacturing credits by line (negative amounts)
    other_sites: list = field(default_factory=list)  # the same parts at every other open site: site, price_usd
    content: dict = field(default_factory=dict)   # required lines (by standard) and chosen options, cost and mass

    @property
    def cells(self) -> int:
        return self.series * self.parallel

    @property
    def verified_band(self) -> dict:
        """The simulation's 90 % band (range_km_p05, ...), {} if not simulated. Computed when first read:
        the certificate simulates several designs and only the reported ones need a band."""
        return self.simulation.band if self.simulation is not None else {}

    @property
    def drift(self) -> float | None:
        """predicted / simulated range - 1."""
        if self.verified_range_km is None:
            return None
        return self.range_km / self.verified_range_km - 1.0

    def to_dict(self) -> dict:
        """Every figure of the design, in the units its keys name (the body of `kei solve --json`)."""
        x = self
        return {
            "range_km": round(x.range_km, 3),
            "verified_range_km": None if x.verified_range_km is None else round(x.verified_range_km, 3),
            "range_drift": None if x.drift is None else round(x.drift, 5),
            # The simulation's 90 % band from the inputs' uncertainty (configs/uncertainty.toml).
            "range_km_p05": round(x.verified_band["range_km_p05"], 3) if x.verified_band else None,
            "range_km_p95": round(x.verified_band["range_km_p95"], 3) if x.verified_band else None,
            "energy_wh_per_km_p05": round(x.verified_band["energy_wh_per_km_p05"], 3) if x.verified_band else None,
            "energy_wh_per_km_p95": round(x.verified_band["energy_wh_per_km_p95"], 3) if x.verified_band else None,
            "valid_test": x.valid_test,
            "price_usd": round(x.price_usd, 2),
            "mass_kg": round(x.curb_mass_kg, 2),
            "test_mass_kg": round(x.test_mass_kg, 2),
            "energy_wh_per_km": round(x.energy_wh_per_km, 3),
            "verified_energy_wh_per_km": None if x.verified_wh_per_km is None else round(x.verified_wh_per_km, 3),
            "battery": {"cell": x.cell.id, "cell_name": x.cell.name, "chemistry": x.cell.chemistry,
                        "series": x.series, "parallel": x.parallel, "cells": x.cells,
                        "energy_kwh": round(x.pack_energy_wh / 1000.0, 4), "voltage_v": round(x.pack_voltage_v, 2),
                        "voltage_range_v": [round(v, 2) for v in x.pack_voltage_range_v],
                        "mass_kg": round(x.pack_mass_kg, 2), "volume_l": round(x.pack_volume_l, 2),
                        "peak_power_kw": round(x.pack_peak_power_w / 1000.0, 2),
                        "continuous_power_kw": round(x.pack_continuous_power_w / 1000.0, 2)},
            "continuous_need_kw": {k: round(v / 1000.0, 2) for k, v in x.continuous_need_w.items()},
            "motor": {"id": x.motor.id, "name": x.motor.name, "peak_power_kw": x.motor.peak_power_kw,
                      "continuous_power_kw": x.motor.continuous_power_kw, "peak_torque_nm": x.motor.peak_torque_nm},
            "body": {"id": x.body.id, "name": x.body.name, "material": x.body.material,
                     "us_crash_compliant": x.body.us_crash_compliant},
            "dimensions_m": {"length": x.body.length_m, "width": x.body.width_m, "height": x.body.height_m},
            "lightweighting_kg": round(x.lightweighting_kg, 3),
            "mass_breakdown_kg": {k: round(v, 2) for k, v in x.mass_kg.items()},
            "price_breakdown_usd": {k: round(v, 2) for k, v in x.price.items()},
            "binding": x.binding,
            "assembly_site": x.site,
            "duties": [{**y, "base_usd": round(y["base_usd"], 2), "amount_usd": round(y["amount_usd"], 2)}
                       for y in x.duties],
            "credits": [{**y, "amount_usd": round(y["amount_usd"], 2)} for y in x.credits],
            # What would change the site: the same parts built at each other site (None: its content rule fails).
            "other_sites": [{"site": y["site"], "price_usd": None if y["price_usd"] is None else round(y["price_usd"], 2)}
                            for y in x.other_sites],
            "content": x.content,
            "fit_error": round(x.fit_error, 6),
            "performance_mass_limit_kg": None if x.perf_mass_limit_kg == float("inf") else round(x.perf_mass_limit_kg, 2),
            "trace_miss_s": x.trace_miss_s,
        }


def lightweighting_cost_usd(d: ModelData, kg: float) -> float:
    """Cost of removing `kg` on the convex curve, cheapest segments first."""
    ends = np.cumsum(d.lw_width_kg)
    starts = ends - d.lw_width_kg
    used = np.clip(kg - starts, 0.0, d.lw_width_kg)
    return float(np.sum(used * d.lw_cost_usd_per_kg))


def decode(m, d: ModelData) -> Choice:
    layout = max(m.LAYOUTS, key=lambda i: pyo.value(m.layout[i]))
    pair = max(m.PAIRS, key=lambda p: pyo.value(m.pair[p]))
    lw = float(sum(pyo.value(m.lw[k]) for k in m.SEGMENTS)) if len(m.SEGMENTS) else 0.0
    site = max(m.SITES, key=lambda s: pyo.value(m.site_chosen[s]))
    options = ()
    if d.content is not None and d.content.options:
        ids = [o.id for o in d.content.options]
        options = tuple(sorted(ids.index(max(members, key=lambda o: pyo.value(m.content_chosen[o])))
                               for members in ([o.id for o in d.content.options if o.group == g]
                                               for g in d.content.groups)))
    return Choice(layout=int(layout), series=int(round(pyo.value(m.series[layout]))), pair=int(pair),
                  lightweighting_kg=max(0.0, min(lw, float(d.body_lw_max_kg[d.pair_body[pair]]))),
                  site=d.sites.index(site), options=options)


def content_lines(d: ModelData, options: tuple[int, ...]) -> dict:
    """The content of a design by line: required (by standard; in the glider or added), pending (later
    model years) and the chosen options, each with cost (before site duty) and mass."""
    cd = d.content
    if cd is None:
        return {}
    line = lambda r: {"id": r.id, "standard": r.standard, "cost_usd": r.cost_usd, "mass_kg": r.mass_kg,  # noqa: E731
                      "in_glider": r.in_glider, "from_model_year": r.from_model_year}
    chosen = [{"group": cd.options[i].group, "id": cd.options[i].id, "name": cd.options[i].name,
               "cost_usd": float(cd.option_cost_usd[i]), "mass_kg": float(cd.option_mass_kg[i])} for i in options]
    return {"profile": d.problem.limits.profile, "profile_description": d.problem.limits.description,
            "model_year": cd.model_year, "climate": cd.climate,
            "required": [line(r) for r in cd.lines], "pending": [line(r) for r in cd.pending],
            "required_added_cost_usd": cd.required_cost_usd, "required_added_mass_kg": cd.required_mass_kg,
            "options": chosen, "options_cost_usd": float(sum(c["cost_usd"] for c in chosen)),
            "options_mass_kg": float(sum(c["mass_kg"] for c in chosen)), **cd.effects(options)}


def evaluate(d: ModelData, ch: Choice, factor: float | None = None) -> Design:
    """The design `ch` in numbers; `factor` replaces the model's energy-per-km factor for it (a simulated design's own)."""
    ci, par, s = int(d.layout_cell[ch.layout]), int(d.layout_parallel[ch.layout]), ch.series
    mi, bi = int(d.pair_motor[ch.pair]), int(d.pair_body[ch.pair])
    cell, motor, body = d.cells[ci], d.motors[mi], d.bodies[bi]
    n = s * par
    lw = ch.lightweighting_kg
    pack_mass = n * d.cell_pack_mass_kg[ci]
    cd = d.content
    opts = tuple(ch.options)
    req_mass = cd.required_mass_kg if cd is not None else 0.0
    req_usd = cd.required_cost_usd if cd is not None else 0.0
    opt_mass = float(sum(cd.option_mass_kg[i] for i in opts)) if cd is not None else 0.0
    opt_usd = float(sum(cd.option_cost_usd[i] for i in opts)) if cd is not None else 0.0
    mass = {"glider": float(d.body_mass_kg[bi]), "lightweighting": -lw, "drive_unit": float(d.motor_mass_kg[mi]),
            "battery_pack": float(pack_mass), "fixed_content": d.fixed_mass_kg - req_mass, "required_content": req_mass,
            "content_options": opt_mass}
    curb = sum(mass.values())
    test = curb + d.payload_kg
    mass["payload"] = d.payload_kg
    price_model = d.problem.price
    lw_cost = lightweighting_cost_usd(d, lw)
    site = price_model.site(d.sites.names[ch.site])
    lines = site_lines(price_model, site, body, motor, cell, n, float(d.cell_integration_usd[ci]), lw_cost,
                       required_content_usd=req_usd, options_usd=opt_usd)
    bom = {k: float(v) for k, v in lines["bom"].items()}
    tariffs = float(sum(x["amount_usd"] for x in lines["duties"]))
    credits = float(sum(x["amount_usd"] for x in lines["credits"]))
    bom_total = float(lines["total_usd"])
    before_tax = bom_total * price_model.retail_price_equivalent
    retail = bom_total * d.price_per_bom
    price = {**{f"bom_{k}": v for k, v in bom.items()}, "duties": tariffs, "credits": credits, "bom_total": bom_total,
             "of_which_tariffs": tariffs, "indirect_costs_and_margin": before_tax - bom_total,
             "sales_tax": retail - before_tax, "retail": retail}
    others = []
    for k, name in enumerate(d.sites.names):
        if k == ch.site:
            continue
        ok = site_meets_rvc(d.sites, k, bi, mi, ci, n, lw_cost, options_usd=opt_usd)
        cost = site_cost_usd(d.sites, k, bi, mi, ci, n, lw_cost, options_usd=opt_usd)
        others.append({"site": name, "price_usd": cost * d.price_per_bom if ok else None})
    others.sort(key=lambda y: (y["price_usd"] is None, y["price_usd"] or 0.0))
    pair = ch.pair
    whkm = d.wh_per_km(pair, test, ch.layout, ch.series, opts, factor=factor)
    loss_cells = d.fit.loss_power_w[pair] * d.cell_loss_wh_per_w[ci] / d.cell_energy_wh[ci]
    label_energy = d.range_energy_factor * d.cell_energy_wh[ci] * (n - loss_cells)
    range_km = label_energy / whkm if whkm > 0 else float("nan")  # nan: data prepared without energy fits
    limit = int(d.pair_perf_limit[pair])
    return Design(
        choice=ch, cell=cell, parallel=par, series=s, motor=motor, body=body,
        pack_energy_wh=float(n * d.cell_energy_wh[ci]), pack_voltage_v=float(s * cell.nominal_voltage_v),
        pack_voltage_range_v=(float(s * cell.min_voltage_v), float(s * cell.max_voltage_v)),
        pack_mass_kg=float(pack_mass), pack_volume_l=float(n * d.cell_pack_volume_l[ci]),
        pack_peak_power_w=float(n * d.cell_peak_power_w[ci]),
        pack_continuous_power_w=float(n * d.cell_continuous_power_w[ci]),
        continuous_need_w=dict(zip(d.continuous_needs, map(float, d.continuous_need_w(pair, test)))),
        lightweighting_kg=lw, curb_mass_kg=float(curb),
        test_mass_kg=float(test), mass_kg=mass, price_usd=float(retail), price=price,
        energy_wh_per_km=float(whkm * n / (n - loss_cells)) if whkm > 0 else float("nan"),
        range_km=float(range_km), perf_mass_limit_kg=float(d.pair_perf_max_kg[pair]),
        perf_limit=PERF_NAMES[limit] if limit >= 0 else "", fit_error=float(d.fit.max_rel_error[pair]),
        site=site.name, duties=lines["duties"], credits=lines["credits"], other_sites=others,
        content=content_lines(d, opts))


def to_vehicle(d: ModelData, design: Design) -> Vehicle:
    """The design as a vehicle file `kei simulate` and the bench read (validated on the way)."""
    defaults = d.defaults
    scale = design.motor.peak_efficiency / max(defaults["motor"]["efficiency_values"])
    motor = design.motor
    gear = motor.gear_ratio or defaults["driveline"]["gear_ratio"]
    # The chosen content options' effects go into the file, so the simulation checks them too.
    fx = design.content or {"drag_area_scale": 1.0, "crr_scale": 1.0, "auxiliary_power_w": 0.0}
    raw = {
        "name": f"{d.problem.name}: {design.cell.id} {design.series}s{design.parallel}p, {motor.id}, {design.body.id}",
        "description": (f"{design.body.name}; {motor.name}; {design.cell.name}, {design.series}s{design.parallel}p "
                        f"{design.pack_energy_wh / 1000:.2f} kWh; lightweighting {design.lightweighting_kg:.1f} kg"
                        + "".join(f"; {o['id']}" for o in (design.content or {}).get("options", [])
                                  if o["cost_usd"] or o["mass_kg"])),
        "body": {"id": design.body.id, "curb_mass_kg": round(design.curb_mass_kg, 3),
                 "drag_coefficient": design.body.drag_coefficient * fx["drag_area_scale"],
                 "frontal_area_m2": design.body.frontal_area_m2,
                 "rolling_resistance_coefficient": design.body.rolling_resistance_coefficient * fx["crr_scale"],
                 "length_m": design.body.length_m, "width_m": design.body.width_m, "height_m": design.body.height_m},
        "battery": {"energy_kwh": design.pack_energy_wh / 1000.0, "nominal_voltage_v": design.pack_voltage_v,
                    "chemistry": design.cell.chemistry, "series": design.series, "parallel": design.parallel,
                    "cell_id": design.cell.id, "cell": _cell_table(design.cell)},
        "motor": {"id": motor.id, "peak_power_kw": motor.peak_power_kw, "continuous_power_kw": motor.continuous_power_kw,
                  "peak_torque_nm": motor.peak_torque_nm, "max_speed_rpm": motor.max_speed_rpm,
                  "efficiency_power_fractions": list(defaults["motor"]["efficiency_power_fractions"]),
                  "efficiency_values": [round(x * scale, 6) for x in defaults["motor"]["efficiency_values"]]},
        "driveline": {"gear_ratio": gear},
        "auxiliary": {"power_w": defaults["auxiliary"]["power_w"] + fx["auxiliary_power_w"]},
        "load": {"payload_kg": d.payload_kg},
        "design": {"problem": d.problem.file or d.problem.name, "cycle": d.cycle.name,
                   "price_usd": round(design.price_usd, 2), "predicted_range_km": round(design.range_km, 3),
                   "solver": SOLVER_LABEL, "assembly_site": design.site,
                   "duty_usd": round(sum(y["amount_usd"] for y in design.duties), 2)},
    }
    if d.governed_speed_kmh is not None:
        raw["top_speed_kmh"] = d.governed_speed_kmh
    return vehicle_from_dict(raw, file="<design>", defaults=defaults)


def _cell_table(cell: CellSpec) -> dict:
    c = cell.as_vehicle_cell()
    return {k: getattr(c, k) for k in c.__dataclass_fields__}
