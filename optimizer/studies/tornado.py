"""`kei study tornado PROBLEM`: every uncertain input at its low and its high value, one at a time.

The points: the problem as configured, then each input of configs/studies/uncertain_inputs.toml at
its low and high end with everything else as configured. The effect is measured on the floor price
(max-range problems: what decides a "no design at the cap" verdict), the best range at the cap, or
the price (min-price problems), and the inputs are sorted by their swing. An input "decides the
verdict" when one of its ends alone flips it (a design at the cap appears or disappears).
"""
from __future__ import annotations

from kei.errors import UsageError
from kei.optimizer.studies.montecarlo import question_for
from kei.optimizer.studies.uncertain import UncertainInput

METRICS = ("floor", "range", "price")


def params(inputs: tuple[UncertainInput, ...], metric: str | None) -> dict:
    if metric is not None and metric not in METRICS:
        raise UsageError("--metric", f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    return {"inputs": [x.to_dict() for x in inputs], "metric": metric}


def _value(result: dict, metric: str, question: str):
    if question == "verdict":
        if metric == "floor":
            return result.get("floor_price_usd")
        best = result.get("best")
        return None if not best else best["verified_range_km" if metric == "range" else "price_usd"]
    if result["status"] != "optimal":
        return None
    return result["verified_range_km"] if metric == "range" else result["price_usd"]


def _feasible(result: dict, question: str) -> bool:
    return bool(result.get("feasible")) if question == "verdict" else result["status"] == "optimal"


def study(spec: dict, run) -> dict:
    inputs = tuple(UncertainInput(**x) for x in spec["inputs"])
    question = question_for(run.problem)
    metric = spec["metric"] or ("floor" if question == "verdict" else "price")
    if question == "solve" and metric == "floor":
        raise UsageError("--metric", "the floor is the question of max-range problems; use price or range")
    points = [run.point(question)]
    for x in inputs:
        points += [run.point(question, [x.override(x.low)]), run.point(question, [x.override(x.high)])]
    results = run.solve(points, total=len(points))
    base = results[0]
    base_value, base_ok = _value(base, metric, question), _feasible(base, question)
    bars = []
    for j, x in enumerate(inputs):
        low, high = results[1 + 2 * j], results[2 + 2 * j]
        v_lo, v_hi = _value(low, metric, question), _value(high, metric, question)
        ok_lo, ok_hi = _feasible(low, question), _feasible(high, question)
        swing = abs(v_hi - v_lo) if v_lo is not None and v_hi is not None else None
        bars.append({"name": x.name, "key": x.key, "apply": x.apply, "low": x.low, "high": x.high,
                     "value_at_low": v_lo, "value_at_high": v_hi, "swing": swing,
                     "feasible_at_low": ok_lo, "feasible_at_high": ok_hi,
                     "flips_verdict": ok_lo != base_ok or ok_hi != base_ok,
                     "design_at_low": _design(low, question), "design_at_high": _design(high, question),
                     "source": x.source})
    # Inputs that flip the verdict first, then by swing (an end with no value swings without bound).
    bars.sort(key=lambda b: (not b["flips_verdict"], -(b["swing"] if b["swing"] is not None else float("inf"))))
    return {"question": question, "metric": metric, "price_cap_usd": run.problem.price_cap_usd,
            "base_value": base_value, "base_feasible": base_ok, "base_design": _design(base, question),
            "bars": bars, "decide_the_verdict": [b["name"] for b in bars if b["flips_verdict"]]}


def _design(result: dict, question: str) -> dict | None:
    if question == "verdict":
        return result.get("best") or result.get("floor_design")
    return {k: result[k] for k in ("cell", "series", "parallel", "motor", "body")} if result["status"] == "optimal" else None


UNIT = {"floor": ("$", "USD"), "price": ("$", "USD"), "range": ("", "km")}


def _fmt(value, metric: str) -> str:
    if value is None:
        return "no design" if metric != "floor" else "none"
    return f"${value:,.0f}" if UNIT[metric][0] else f"{value:.1f} km"


def table(result) -> str:
    s = result.summary
    metric = s["metric"]
    what = {"floor": "floor price (cheapest design meeting all but the cap)", "range": "best range at the cap",
            "price": "price"}[metric]
    verdict = "a design meets" if s["base_feasible"] else "no design meets"
    lines = [f"{result.spec['problem']}: tornado on the {what}; as configured {_fmt(s['base_value'], metric)}, "
             f"{verdict} the ${s['price_cap_usd']:,.0f} cap",
             f"  {'input':<30} {'low':>10} {'high':>10} {'at low':>12} {'at high':>12} {'swing':>10}  verdict"]
    for b in s["bars"]:
        swing = "-" if b["swing"] is None else (f"${b['swing']:,.0f}" if UNIT[metric][0] else f"{b['swing']:.1f} km")
        flip = "FLIPS" if b["flips_verdict"] else ""
        lines.append(f"  {b['name']:<30} {b['low']:>10g} {b['high']:>10g} {_fmt(b['value_at_low'], metric):>12} "
                     f"{_fmt(b['value_at_high'], metric):>12} {swing:>10}  {flip}")
    if s["decide_the_verdict"]:
        lines.append("  decide the verdict alone: " + ", ".join(s["decide_the_verdict"]))
    else:
        lines.append("  no input alone flips the verdict at its ends")
    return "\n".join(lines)
