"""Which constraints bind at a design, in the design's own discrete terms.

With integer cell counts a constraint rarely holds with equality; it binds when the next step the
optimizer would take (one more cell in series, one more kg off the glider) would break it. Each
entry says what the limit is, where the design stands and what the next step would need.
"""
from __future__ import annotations

from kei.optimizer.answers.design import Design
from kei.optimizer.prepare.model_data import ModelData

PERF_TEXT = {"accel_0_100": "0-100 km/h time", "top_speed": "top speed on continuous power",
             "grade": "grade at speed on continuous power", "cycle": "following the cycle"}
NEED_TEXT = {"top_speed": "holding top speed", "grade": "holding the grade at speed"}


def binding_constraints(d: ModelData, x: Design) -> list[dict]:
    ci = int(d.layout_cell[x.choice.layout])
    mi = int(d.pair_motor[x.choice.pair])
    step_cells = x.parallel                       # one more series element
    step_price = step_cells * d.sites.cell_usd[x.choice.site, ci] * d.price_per_bom   # at the chosen site
    step_mass = step_cells * d.cell_pack_mass_kg[ci]
    out: list[dict] = []

    def add(name, value, limit, unit, text):
        out.append({"name": name, "value": round(float(value), 3), "limit": round(float(limit), 3), "unit": unit,
                    "text": text})

    pack = d.catalog.pack
    minimizing = d.problem.objective == "min_price"
    if d.price_cap_usd is not None and d.price_cap_usd - x.price_usd < max(step_price, 1.0):
        add("price_cap", x.price_usd, d.price_cap_usd, "USD",
            f"${x.price_usd:,.0f} of ${d.price_cap_usd:,.0f}: one more series cell group costs ${step_price:,.0f}")
    if d.min_range_km is not None and minimizing:
        add("min_range", x.range_km, d.min_range_km, "km", f"{x.range_km:.1f} km against {d.min_range_km:g} km required")
    volume = float(d.body_volume_l[d.pair_body[x.choice.pair]])
    if volume - x.pack_volume_l < step_cells * d.cell_pack_volume_l[ci] and not minimizing:
        add("pack_volume", x.pack_volume_l, volume, "L",
            f"pack {x.pack_volume_l:.1f} L of the body's {volume:.0f} L")
    vmax = float(d.motor_vmax_v[mi])
    if (x.series + 1) * x.cell.max_voltage_v > vmax and not minimizing:
        add("voltage_max", x.pack_voltage_range_v[1], vmax, "V",
            f"full pack {x.pack_voltage_range_v[1]:.0f} V; one more cell in series exceeds the motor's {vmax:.0f} V")
    vmin = float(d.motor_vmin_v[mi])
    if (x.series - 1) * x.cell.min_voltage_v < vmin and minimizing:
        add("voltage_min", x.pack_voltage_range_v[0], vmin, "V",
            f"empty pack {x.pack_voltage_range_v[0]:.0f} V; one cell less in series is below the motor's {vmin:.0f} V")
    need = float(d.motor_pack_power_w[mi])
    if minimizing and x.pack_peak_power_w - step_cells * d.cell_peak_power_w[ci] < need:
        add("pack_peak_power", x.pack_peak_power_w / 1000, need / 1000, "kW",
            f"pack delivers {x.pack_peak_power_w / 1000:.1f} kW at its cells' pulse rate "
            f"({x.cell.peak_discharge_c:g}C); the motor draws {need / 1000:.1f} kW at peak")
    cont_step = step_cells * d.cell_continuous_power_w[ci]
    for name, need_w in x.continuous_need_w.items():
        # One series group less saves its mass too: does the smaller pack still hold this need?
        lighter_w = float(d.continuous_need_w(x.choice.pair, x.test_mass_kg - step_mass)[d.continuous_needs.index(name)])
        if minimizing and x.pack_continuous_power_w - cont_step < lighter_w:
            add(f"pack_continuous_power_{name}", x.pack_continuous_power_w / 1000, need_w / 1000, "kW",
                f"pack sustains {x.pack_continuous_power_w / 1000:.1f} kW at its cells' continuous rate "
                f"({x.cell.max_discharge_c:g}C); {NEED_TEXT[name]} draws {need_w / 1000:.1f} kW")
    if x.perf_limit and x.perf_mass_limit_kg - x.test_mass_kg < step_mass and not minimizing:
        add(f"performance_{x.perf_limit}", x.test_mass_kg, x.perf_mass_limit_kg, "kg",
            f"test mass {x.test_mass_kg:.0f} kg of {x.perf_mass_limit_kg:.0f} kg allowed by "
            f"{PERF_TEXT[x.perf_limit]}")
    lw_max = float(d.body_lw_max_kg[d.pair_body[x.choice.pair]])
    if lw_max > 0 and x.lightweighting_kg >= lw_max - 1e-6:
        add("lightweighting_max", x.lightweighting_kg, lw_max, "kg",
            f"all {lw_max:.0f} kg of lightweighting this glider allows is bought")
    if x.series >= pack.max_series and not minimizing:
        add("max_series", x.series, pack.max_series, "cells", "at the pack's most cells in series")
    max_par = int(d.cell_max_parallel[ci])
    if x.parallel >= max_par and not minimizing:
        add("max_parallel", x.parallel, max_par, "strings",
            "at the catalog's pack-layout limit for this cell, a model bound derived from volume (kei catalog)")
    if d.max_test_mass_kg is not None and d.max_test_mass_kg - x.test_mass_kg < step_mass:
        add("gross_mass", x.test_mass_kg, d.max_test_mass_kg, "kg", "at the class's gross-mass limit")
    if d.max_unladen_excl_battery_kg is not None:
        unladen = x.curb_mass_kg - x.pack_mass_kg
        if d.max_unladen_excl_battery_kg - unladen < 1.0:
            add("unladen_mass", unladen, d.max_unladen_excl_battery_kg, "kg", "at the class's unladen-mass limit")
    return out
