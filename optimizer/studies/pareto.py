"""`kei study pareto PROBLEM`: the exact price-range front, each point a verified optimum.

Epsilon-constraint over the problem's own constraint: for a max-range problem the best range at a
price cap, from the floor price (the cheapest design at all) to the price of the longest-range design;
for a min-price problem the lowest price for a required range, from the cheapest design's range to
the longest range any design reaches. Each point is `kei.solve` at that cap or range, verified by
simulation, with its design.

Points go where the front bends: a few evenly spaced points first, then every interval whose
midpoint lies further than the tolerance from the chord between its ends is split, round after
round, until the front is straight within the tolerance between its points, the intervals reach the
minimum step, or the point budget is spent (configs/studies/settings.toml). A jump (a new motor or
body becoming affordable) keeps being split down to the minimum step, so it is located to it.
"""
from __future__ import annotations

import math

from kei.optimizer.studies.overrides import SET, Override

REACH_TOLERANCE = 1e-6  # relative: ask for the longest range just below itself, so the MILP's tolerances cannot miss it
# relative: a min-price front ends this far below the longest range. The certificate keeps one factor
# per simulated design over every lightweighting (solving/certificate.py), the largest measured, but
# the simulated drift of one design moves with its lightweighting (us_kei_150km's 107s24p Fiat 500e
# build: model over simulation +0.05 % at 35.5 kg removed, +0.17 % at 60 kg), so a min-price solve
# that simulates the design at a lighter removal first can no longer reach the very longest range.
# A numerical margin over that measured spread, not a physical figure.
MIN_PRICE_END_TOLERANCE = 2e-3


def params(start: float | None, stop: float | None, max_points: int | None) -> dict:
    return {"start": start, "stop": stop, "max_points": max_points}


def study(spec: dict, run) -> dict:
    s = run.settings
    max_range = run.problem.objective == "max_range"
    key = "problem.price_cap_usd" if max_range else "problem.min_range_km"
    budget = spec["max_points"] or s.pareto_max_points
    tol = s.pareto_range_tolerance_km if max_range else s.pareto_price_tolerance_usd
    min_step = s.pareto_min_step_usd if max_range else s.pareto_min_step_km
    uncapped = Override("problem.price_cap_usd", SET, s.uncapped_price_usd)

    # The ends of the front.
    if max_range:
        low, top = run.solve([run.point("floor"), run.point("solve", [uncapped])])
        if low["status"] != "optimal" or top["status"] != "optimal":
            return {"axis": key, "points": [], "explanation": low.get("explanation") or top.get("explanation")}
        # The longest range is not its cheapest design (max range does not look at the price): the
        # front ends where that range first becomes affordable.
        (cheapest_top,) = run.solve([run.point("solve", [
            Override("problem.objective", SET, "min_price"), uncapped,
            Override("problem.min_range_km", SET, top["range_km"] * (1 - REACH_TOLERANCE))])])
        end = cheapest_top if cheapest_top["status"] == "optimal" else top
        x_lo, x_hi = math.ceil(low["floor_price_usd"]), math.ceil(end["price_usd"])
    else:
        cheapest, longest = run.solve([
            run.point("solve", [Override("problem.min_range_km", SET, 0.0), uncapped]),
            run.point("solve", [Override("problem.objective", SET, "max_range"), uncapped])])
        if cheapest["status"] != "optimal" or longest["status"] != "optimal":
            return {"axis": key, "points": [], "explanation": cheapest.get("explanation") or longest.get("explanation")}
        x_lo = math.floor(cheapest["range_km"] * 100) / 100
        x_hi = math.floor(longest["range_km"] * (1 - MIN_PRICE_END_TOLERANCE) * 100) / 100
    x_lo = max(x_lo, spec["start"]) if spec["start"] is not None else x_lo
    x_hi = min(x_hi, spec["stop"]) if spec["stop"] is not None else x_hi
    y_key = "verified_range_km" if max_range else "price_usd"

    front: dict[float, dict] = {}

    # A min-price front is the price each range takes: the problem's cap would cut it off.
    extra = [] if max_range else [uncapped]

    def solve_at(xs: list[float]) -> None:
        xs = [x for x in dict.fromkeys(xs) if x not in front]
        results = run.solve([run.point("solve", [Override(key, SET, x), *extra]) for x in xs])
        front.update(zip(xs, results))

    def y(x: float):
        r = front[x]
        return r[y_key] if r["status"] == "optimal" else None

    n0 = s.pareto_initial_points
    if x_hi <= x_lo:
        solve_at([x_lo])
    else:
        n = max(2, min(n0 + 2, budget))
        solve_at([_round(x_lo + (x_hi - x_lo) * k / (n - 1)) for k in range(n)])
    xs = sorted(front)
    pending = [(a, b) for a, b in zip(xs, xs[1:]) if b - a > 2 * min_step]
    stopped = False
    while pending:
        room = budget - len(front)
        if room <= 0:
            stopped = True
            break
        pending = pending[:room]
        mids = [_round((a + b) / 2) for a, b in pending]
        solve_at(mids)
        nxt = []
        for (a, b), m in zip(pending, mids):
            ya, yb, ym = y(a), y(b), y(m)
            if None in (ya, yb, ym) or abs(ym - (ya + yb) / 2) > tol:
                nxt += [(lo, hi) for lo, hi in ((a, m), (m, b)) if hi - lo > 2 * min_step]
        pending = nxt
    points = []
    for x in sorted(front):
        r = front[x]
        row = {"x": x, "status": r["status"]}
        if r["status"] == "optimal":
            row.update({k: r[k] for k in ("price_usd", "range_km", "verified_range_km", "cell", "series", "parallel",
                                          "energy_kwh", "motor", "body", "lightweighting_kg")})
        else:
            row["explanation"] = r.get("explanation")
        points.append(row)
    return {"axis": key, "objective": run.problem.objective, "tolerance": tol, "min_step": min_step,
            "budget_reached": stopped, "points": points, "segments": _segments(points)}


def _round(x: float) -> float:
    return round(x, 2)


def _segments(points: list[dict]) -> list[dict]:
    """Runs of consecutive points with the same parts (cell, motor, body): where the design changes."""
    out = []
    for p in points:
        if p["status"] != "optimal":
            continue
        parts = (p["cell"], p["motor"], p["body"])
        if out and out[-1]["parts"] == parts:
            seg = out[-1]
            seg["to_x"], seg["to_range_km"], seg["to_price_usd"] = p["x"], p["verified_range_km"], p["price_usd"]
            seg["points"] += 1
        else:
            out.append({"parts": parts, "from_x": p["x"], "to_x": p["x"], "from_range_km": p["verified_range_km"],
                        "to_range_km": p["verified_range_km"], "from_price_usd": p["price_usd"],
                        "to_price_usd": p["price_usd"], "points": 1})
    for seg in out:
        seg["parts"] = list(seg["parts"])
    return out


def table(result) -> str:
    s = result.summary
    if not s["points"]:
        return f"{result.spec['problem']}: no front: {s.get('explanation')}"
    max_range = s["objective"] == "max_range"
    axis = "price cap" if max_range else "min range"
    lines = [f"{result.spec['problem']}: price-range front, {len(s['points'])} verified optima "
             f"(refined to {s['tolerance']:g} {'km' if max_range else 'USD'} of the chord)"
             + (" - point budget reached" if s["budget_reached"] else ""),
             f"  {axis:>10} {'price':>9} {'range km':>9}  design"]
    for p in s["points"]:
        x = f"${p['x']:,.0f}" if max_range else f"{p['x']:.1f} km"
        if p["status"] != "optimal":
            lines.append(f"  {x:>10}  no design")
            continue
        lines.append(f"  {x:>10} ${p['price_usd']:>8,.0f} {p['verified_range_km']:>9.1f}  {p['cell']} "
                     f"{p['series']}s{p['parallel']}p {p['energy_kwh']:.1f} kWh, {p['motor']}, {p['body']}")
    lines.append("  where the parts change:")
    for seg in s["segments"]:
        lines.append(f"    ${seg['from_price_usd']:,.0f} - ${seg['to_price_usd']:,.0f}: {seg['from_range_km']:.0f}-"
                     f"{seg['to_range_km']:.0f} km, {' / '.join(seg['parts'])}")
    return "\n".join(lines)
