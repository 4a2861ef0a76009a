"""`kei study breakeven PROBLEM --vary KEY[=LOW:HIGH] --until feasible`: where the verdict flips.

The value of one input at which the problem gets (or loses) a design, or reaches a target range or
price, bracketed to a stated tolerance. Each round solves `breakeven_points_per_round` points that
split the bracket evenly and keeps the part where the verdict changes (bisection with one point a
round; with two, the bracket shrinks 3x a round on two cores). The answer is the bracket and the
design on each side of it. A bracket assumes one flip in the range; where the verdict flips more than
once, the flip nearest the low end is found (the points solved are all in the study file).

`--until`: `feasible` (a design meets the problem), `range=KM` (the best range at the cap reaches
KM), `price=USD` (the floor price of a max-range problem, or a min-price problem's price, is at most
USD).
"""
from __future__ import annotations

from kei.errors import UsageError
from kei.optimizer.studies.montecarlo import question_for
from kei.optimizer.studies.overrides import Override, check_key
from kei.optimizer.studies.sweep import parse_range
from kei.optimizer.studies.uncertain import load_uncertain_inputs


def parse_until(text: str) -> dict:
    if text == "feasible":
        return {"kind": "feasible"}
    kind, _, value = text.partition("=")
    try:
        target = float(value)
    except ValueError:
        target = None
    if kind not in ("range", "price") or target is None:
        raise UsageError("--until", f"{text!r}: expected feasible, range=KM or price=USD")
    return {"kind": kind, "target": target}


def params(vary: str, until: str, tol: float | None) -> dict:
    if "=" in vary:
        key, op, (low, high) = parse_range(vary, "--vary", step=False)
    else:  # a key of the uncertain inputs: its range
        known = {x.key: x for x in load_uncertain_inputs()}
        bare = vary[:-1] if vary.endswith("*") and not vary.endswith(".*") else vary
        check_key(bare, "--vary")
        if bare not in known:
            raise UsageError("--vary", f"{vary!r} is not in configs/studies/uncertain_inputs.toml; give its range: "
                             f"--vary '{vary}=LOW:HIGH' (KEY*=LOW:HIGH multiplies)")
        x = known[bare]
        key, op, low, high = x.key, x.override(x.low).op, x.low, x.high
    if not low < high:
        raise UsageError("--vary", f"needs LOW < HIGH, got {low:g}:{high:g}")
    if tol is not None and not tol > 0:
        raise UsageError("--tol", f"must be positive, got {tol:g}")
    return {"vary": {"key": key, "op": op, "low": low, "high": high}, "until": parse_until(until), "tol": tol}


def met(result: dict, until: dict, question: str) -> bool:
    if question == "verdict":
        best = result.get("best")
        if until["kind"] == "feasible":
            return bool(result.get("feasible"))
        if until["kind"] == "range":
            return bool(best) and best["verified_range_km"] >= until["target"]
        floor = result.get("floor_price_usd")
        return floor is not None and floor <= until["target"]
    if result["status"] != "optimal":
        return False
    if until["kind"] == "range":
        return result["verified_range_km"] >= until["target"]
    return until["kind"] == "feasible" or result["price_usd"] <= until["target"]


def study(spec: dict, run) -> dict:
    vary, until = spec["vary"], spec["until"]
    question = question_for(run.problem)
    tol = spec["tol"] or run.settings.breakeven_relative_tolerance * (vary["high"] - vary["low"])
    per_round = run.settings.breakeven_points_per_round

    def at(values):
        pts = [run.point(question, [Override(vary["key"], vary["op"], v)]) for v in values]
        return run.solve(pts)

    lo, hi = vary["low"], vary["high"]
    r_lo, r_hi = at([lo, hi])
    ok_lo, ok_hi = met(r_lo, until, question), met(r_hi, until, question)
    rounds = 1
    if ok_lo != ok_hi:
        while hi - lo > tol:
            values = [float(lo + (hi - lo) * (j + 1) / (per_round + 1)) for j in range(per_round)]
            results = at(values)
            rounds += 1
            edges = [(lo, r_lo)] + list(zip(values, results)) + [(hi, r_hi)]
            for (a, ra), (b, rb) in zip(edges, edges[1:]):
                if met(ra, until, question) != met(rb, until, question):
                    (lo, r_lo), (hi, r_hi) = (a, ra), (b, rb)
                    break
    found = ok_lo != ok_hi
    return {"question": question, "key": vary["key"], "op": vary["op"], "until": until, "tolerance": tol,
            "found": found, "rounds": rounds, "price_cap_usd": run.problem.price_cap_usd,
            "bracket": [lo, hi] if found else None, "value": (lo + hi) / 2 if found else None,
            "met_at_low_end": met(r_lo, until, question), "met_at_high_end": met(r_hi, until, question),
            "low_side": _side(lo, r_lo, question), "high_side": _side(hi, r_hi, question)}


def _side(value: float, result: dict, question: str) -> dict:
    if question == "verdict":
        return {"value": value, "floor_price_usd": result.get("floor_price_usd"), "floor_design": result.get("floor_design"),
                "best": result.get("best")}
    keep = ("status", "price_usd", "verified_range_km", "cell", "series", "parallel", "motor", "body", "explanation")
    return {"value": value, **{k: result.get(k) for k in keep}}


def _design(side: dict) -> str:
    d = side.get("best") or side.get("floor_design") or (side if side.get("cell") else None)
    if not d:
        return "no design: " + (side.get("explanation") or "")
    return f"{d['cell']} {d['series']}s{d['parallel']}p, {d['motor']}, {d['body']}"


def _describe(side: dict) -> str:
    best = side.get("best")
    parts = []
    if side.get("floor_price_usd") is not None:
        parts.append(f"floor ${side['floor_price_usd']:,.0f}")
    if best:
        parts.append(f"best {best['verified_range_km']:.1f} km at ${best['price_usd']:,.0f}")
    elif side.get("price_usd") is not None:
        parts.append(f"${side['price_usd']:,.0f}, {side['verified_range_km']:.1f} km")
    return ", ".join(parts)


def table(result) -> str:
    s = result.summary
    what = {"feasible": "a design meets the problem", "range": f"the best range reaches {s['until'].get('target', 0):g} km",
            "price": f"the price is at most ${s['until'].get('target', 0):,.0f}"}[s["until"]["kind"]]
    scale = " (factor on the configured values)" if s["op"] == "*=" else ""
    lines = [f"{result.spec['problem']}: break-even of {s['key']}{scale}: where {what}"]
    if not s["found"]:
        side = "met" if s["met_at_low_end"] else "not met"
        lines.append(f"  no flip between {s['low_side']['value']:g} and {s['high_side']['value']:g}: {side} at both ends "
                     "(widen the range)")
    else:
        lo, hi = s["bracket"]
        lines.append(f"  flips between {lo:.6g} and {hi:.6g} (tolerance {s['tolerance']:.3g}, {s['rounds']} rounds)")
    for label, side in (("low side ", s["low_side"]), ("high side", s["high_side"])):
        ok = s["met_at_low_end"] if label.startswith("low") else s["met_at_high_end"]
        lines.append(f"  {label} {side['value']:.6g}: {'met' if ok else 'not met'}; {_describe(side)}; {_design(side)}")
    return "\n".join(lines)
