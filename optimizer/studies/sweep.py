"""`kei study sweep PROBLEM --set KEY=START:STOP:STEP [--set ...]`: one or two inputs over a grid.

Any number of the problem, its price model, its catalog or the model defaults, by dotted key
(`KEY*=START:STOP:STEP` multiplies instead of setting). Every grid point is its own `kei.solve`, so
a sweep of the price cap that crosses the screening boundary gives at each cap what `kei solve
--price-cap` gives. The metric is the best range or the price (the problem's objective), or the floor
price (the cheapest design meeting everything but the cap).
"""
from __future__ import annotations

import math

from kei.errors import UsageError
from kei.optimizer.studies.overrides import SCALE, Override, split_assignment

METRICS = ("range", "price", "floor")


def parse_range(text: str, option: str, *, step: bool) -> tuple[str, str, list[float]]:
    """'KEY=START:STOP:STEP' (or 'KEY=LOW:HIGH' when step is False) -> (key, op, numbers)."""
    key, op, value = split_assignment(text, option)
    parts = value.split(":")
    want = 3 if step else 2
    try:
        numbers = [float(x) for x in parts]
    except ValueError:
        numbers = []
    if len(numbers) != want or not all(math.isfinite(x) for x in numbers):
        form = "START:STOP:STEP" if step else "LOW:HIGH"
        raise UsageError(option, f"{text!r}: expected KEY={form} with numbers")
    return key, op, numbers


def grid(start: float, stop: float, step: float, option: str) -> list[float]:
    if step <= 0 or stop < start:
        raise UsageError(option, f"needs STOP >= START and STEP > 0, got {start:g}:{stop:g}:{step:g}")
    n = int(math.floor((stop - start) / step + 1e-9)) + 1
    return [float(f"{start + k * step:.12g}") for k in range(n)]


def params(vary, metric: str | None) -> dict:
    vary = [vary] if isinstance(vary, str) else list(vary)
    if not 1 <= len(vary) <= 2:
        raise UsageError("--set", f"a sweep varies one or two keys, got {len(vary)}")
    if metric is not None and metric not in METRICS:
        raise UsageError("--metric", f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    axes = []
    for text in vary:
        key, op, (start, stop, step) = parse_range(text, "--set", step=True)
        axes.append({"key": key, "op": op, "values": grid(start, stop, step, "--set")})
    if len(axes) == 2 and axes[0]["key"] == axes[1]["key"]:
        raise UsageError("--set", f"{axes[0]['key']} is swept twice")
    return {"axes": axes, "metric": metric}


def metric_value(result: dict, metric: str):
    if metric == "floor":
        return result.get("floor_price_usd")
    if result.get("status") != "optimal":
        return None
    return result["verified_range_km"] if metric == "range" else result["price_usd"]


def study(spec: dict, run) -> dict:
    axes = spec["axes"]
    metric = spec["metric"] or ("range" if run.problem.objective == "max_range" else "price")
    question = "floor" if metric == "floor" else "solve"
    combos = [[v] for v in axes[0]["values"]]
    if len(axes) == 2:
        combos = [[a, b] for a in axes[0]["values"] for b in axes[1]["values"]]
    points = [run.point(question, [Override(ax["key"], ax["op"], v) for ax, v in zip(axes, values)])
              for values in combos]
    results = run.solve(points, total=len(points))
    rows = []
    for values, r in zip(combos, results):
        design = r.get("floor_design") if question == "floor" or r.get("status") != "optimal" else {
            k: r[k] for k in ("cell", "series", "parallel", "motor", "body")}
        rows.append({"values": values, "status": r.get("status"), "value": metric_value(r, metric),
                     "range_km": r.get("verified_range_km"), "price_usd": r.get("price_usd"),
                     "floor_price_usd": r.get("floor_price_usd"), "design": design,
                     "explanation": r.get("explanation")})
    return {"metric": metric, "question": question, "axes": [{"key": a["key"], "op": a["op"]} for a in axes],
            "shape": [len(a["values"]) for a in axes], "points": rows}


def _label(axis: dict) -> str:
    return axis["key"] + (" (x)" if axis["op"] == SCALE else "")


def table(result) -> str:
    s = result.summary
    metric = s["metric"]
    head = " | ".join(_label(a) for a in s["axes"])
    lines = [f"{result.spec['problem']}: sweep of {head}; metric {metric}",
             "  " + "  ".join(f"{_label(a)[-28:]:>28}" for a in s["axes"]) +
             f"  {'status':>10} {'range km':>9} {'price':>9} {'floor':>9}  design"]
    for row in s["points"]:
        d = row["design"]
        design = f"{d['cell']} {d['series']}s{d['parallel']}p, {d['motor']}, {d['body']}" if d else ""
        money = lambda x: f"${x:,.0f}" if x is not None else "-"  # noqa: E731
        rng = f"{row['range_km']:.1f}" if row["range_km"] is not None else "-"
        lines.append("  " + "  ".join(f"{v:>28g}" for v in row["values"]) +
                     f"  {row['status'] or '-':>10} {rng:>9} {money(row['price_usd']):>9} "
                     f"{money(row['floor_price_usd']):>9}  {design}")
    return "\n".join(lines)
