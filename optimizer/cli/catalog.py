"""`kei catalog`: the parts catalogs as readable tables (or JSON, or Markdown for docs/catalog.md)."""
from __future__ import annotations

from dataclasses import asdict

from kei.optimizer.inputs.catalog import load_catalog
from kei.optimizer.inputs.pack_layout import ParallelLimit, parallel_limits
from kei.optimizer.inputs.parts import BodySpec, Catalog, CellSpec, MotorSpec
from kei.output import print_json


def register(sub) -> None:
    p = sub.add_parser("catalog", help="list the parts catalogs: cells, drive units, bodies, pack integration")
    p.add_argument("--dir", default=None, metavar="DIR",
                   help="catalog directory with cells.toml, motors.toml, bodies.toml, pack.toml (default: the bundled one)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object (every field plus derived figures)")
    out.add_argument("--markdown", action="store_true", help="print Markdown tables (the part tables of docs/catalog.md)")
    p.set_defaults(func=run_catalog)


# ---- derived figures --------------------------------------------------------------------------
def cell_row(c: CellSpec, limit: ParallelLimit) -> dict:
    return {**asdict(c), "energy_wh": c.energy_wh, "specific_energy_wh_per_kg": c.energy_wh / c.mass_kg,
            "energy_density_wh_per_l": c.energy_wh / c.volume_l, "cost_usd": c.cost_usd,
            "max_parallel": limit.max_parallel, "max_parallel_derivation": asdict(limit)}


def motor_row(m: MotorSpec) -> dict:
    return {**asdict(m), "cost_usd_per_kw": m.cost_usd / m.peak_power_kw,
            "specific_power_kw_per_kg": m.peak_power_kw / m.mass_kg}


def body_row(b: BodySpec) -> dict:
    return {**asdict(b), "drag_area_m2": b.drag_area_m2, "cost_usd_per_kg": b.cost_usd / b.glider_mass_kg}


def catalog_dict(cat: Catalog) -> dict:
    return {"source": cat.source, "cells": [cell_row(c, lim) for c, lim in zip(cat.cells, parallel_limits(cat))],
            "motors": [motor_row(m) for m in cat.motors], "bodies": [body_row(b) for b in cat.bodies],
            "pack": asdict(cat.pack), "lightweighting": [asdict(s) for s in cat.lightweighting],
            "content": {"default_model_year": cat.content.default_model_year,
                        "required": [asdict(r) for r in cat.content.required],
                        "options": [asdict(o) for o in cat.content.options]}}


# ---- tables: one column list per part kind serves text and Markdown ---------------------------
def _dims(r):
    return f"{r['length_m']:g} x {r['width_m']:g} x {r['height_m']:g}"


CELL_COLUMNS = (
    ("id", "id", "s"), ("chemistry", "chemistry", "s"), ("format", "format", "s"), ("Ah", "capacity_ah", ".1f"),
    ("V", "nominal_voltage_v", ".2f"), ("Wh", "energy_wh", ".1f"), ("Wh/kg", "specific_energy_wh_per_kg", ".0f"),
    ("Wh/L", "energy_density_wh_per_l", ".0f"), ("C dis", "max_discharge_c", ".1f"),
    ("C peak", "peak_discharge_c", ".1f"), ("C chg", "max_charge_c", ".1f"),
    ("mOhm", "internal_resistance_mohm", ".2f"), ("$/kWh", "cost_usd_per_kwh", ".0f"), ("origin", "origin", "s"),
    ("max p", "max_parallel", "d"),
)
MOTOR_COLUMNS = (
    ("id", "id", "s"), ("peak kW", "peak_power_kw", ".1f"), ("cont kW", "continuous_power_kw", ".1f"),
    ("N m", "peak_torque_nm", ".0f"), ("rpm", "max_speed_rpm", ".0f"), ("ratio", "gear_ratio", ".2f"),
    ("eff", "peak_efficiency", ".2f"), ("V min", "min_voltage_v", ".0f"), ("V max", "max_voltage_v", ".0f"),
    ("kg", "mass_kg", ".0f"), ("$", "cost_usd", ".0f"), ("$/kW", "cost_usd_per_kw", ".1f"), ("origin", "origin", "s"),
)
REQUIRED_COLUMNS = (
    ("id", "id", "s"), ("standard", "standard", "s"), ("$", "cost_usd", ".0f"), ("kg", "mass_kg", ".1f"),
    ("from MY", lambda r: str(r["from_model_year"]) if r["from_model_year"] else "-", "s"),
    ("in glider", "in_glider", "s"),
)
OPTION_COLUMNS = (
    ("group", "group", "s"), ("id", "id", "s"), ("$", "cost_usd", ".0f"), ("kg", "mass_kg", ".1f"),
    ("CdA x", "drag_area_scale", ".2f"), ("Crr x", "crr_scale", ".2f"), ("aux W", "auxiliary_power_w", ".0f"),
    ("cold aux W", "cold_auxiliary_power_w", ".0f"),
)
BODY_COLUMNS = (
    ("id", "id", "s"), ("material", "material", "s"), ("L x W x H m", _dims, "s"), ("glider kg", "glider_mass_kg", ".0f"),
    ("Cd", "drag_coefficient", ".3f"), ("A m2", "frontal_area_m2", ".2f"), ("CdA m2", "drag_area_m2", ".3f"),
    ("Crr", "rolling_resistance_coefficient", ".4f"), ("battery L", "battery_volume_l", ".0f"),
    ("lighten kg", "lightweighting_max_kg", ".0f"), ("US crash", "us_crash_compliant", "s"), ("$", "cost_usd", ".0f"),
    ("$/kg", "cost_usd_per_kg", ".2f"), ("origin", "origin", "s"),
)


def _cell_text(row: dict, key, fmt: str) -> str:
    value = key(row) if callable(key) else row[key]
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, fmt)


def _table(rows: list[dict], columns, markdown: bool) -> list[str]:
    cells = [[_cell_text(r, key, fmt) for _, key, fmt in columns] for r in rows]
    headers = [h for h, _, _ in columns]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if f != "s" else "---" for _, _, f in columns) + "|"]
        return lines + ["| " + " | ".join(c) + " |" for c in cells]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    numeric = [f != "s" for _, _, f in columns]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    return [line(headers)] + [line(c) for c in cells]


def render(cat: Catalog, markdown: bool = False) -> str:
    data = catalog_dict(cat)
    heading = (lambda t: f"### {t}\n") if markdown else (lambda t: f"{t}")
    out = [heading(f"Cells ({len(cat.cells)})")] + _table(data["cells"], CELL_COLUMNS, markdown)
    out += ["", heading(f"Drive units: motor + inverter + reduction ({len(cat.motors)})")]
    out += _table(data["motors"], MOTOR_COLUMNS, markdown)
    out += ["", heading(f"Bodies / gliders: everything but pack and drive unit ({len(cat.bodies)})")]
    out += _table(data["bodies"], BODY_COLUMNS, markdown)
    p = cat.pack
    bullet = "- " if markdown else ""
    out += ["", heading("Pack integration and lightweighting"),
            f"{bullet}pack over cells: +${p.cost_usd_per_kwh:.0f}/kWh; cell/pack mass {p.cell_to_pack_mass_ratio:.2f}, "
            f"cell/pack volume {p.cell_to_pack_volume_ratio:.2f}; series {p.min_series}-{p.max_series}, "
            f"parallel from {p.min_parallel} to each cell's `max p`: "
            + (f"pack.max_parallel = {p.max_parallel} where the volume allows more, else " if p.max_parallel else "")
            + "a model bound derived from volume (the largest body's battery space over the pack volume of the "
            "fewest cells in series a drive unit takes; 0: the cell fits no drive unit's window)"]
    start_kg = 0.0
    steps = []
    for s in cat.lightweighting:
        steps.append(f"{start_kg:.0f}-{s.up_to_kg:.0f} kg at ${s.cost_usd_per_kg:.2f}/kg")
        start_kg = s.up_to_kg
    out.append(f"{bullet}lightweighting: " + (", ".join(steps) if steps else "none (no curve given)"))
    if cat.content.required or cat.content.options:
        out += ["", heading(f"Required content lines ({len(cat.content.required)}; a regulatory profile's "
                            f"required_content, default model year {cat.content.default_model_year})")]
        out += _table(data["content"]["required"], REQUIRED_COLUMNS, markdown)
        out += ["", heading(f"Content options ({len(cat.content.options)} in {len(cat.content.groups)} groups, "
                            "one per group chosen by the MILP; the first is the baseline)")]
        out += _table(data["content"]["options"], OPTION_COLUMNS, markdown)
    return "\n".join(out) + "\n"


def run_catalog(args) -> int:
    cat = load_catalog(args.dir)
    if args.json:
        print_json(catalog_dict(cat))
    else:
        if not args.markdown:
            print(f"catalog: {cat.source}\n")
        print(render(cat, markdown=args.markdown), end="")
    return 0
