"""`kei study montecarlo PROBLEM --samples N --seed S`: how likely a design meets the cap, given the inputs' ranges.

Each sample draws every uncertain input (configs/studies/uncertain_inputs.toml) and asks whether a
design meets the problem: for a max-range problem, the floor price (the cheapest design meeting
everything but the cap) and, where it is under the cap, the best range there, verified by
simulation. The answer: the share of samples with a design (a Wilson score interval at the
configured confidence), the distributions of the floor and the best range, which parts win how
often, how strongly each input moves the floor (Spearman rank correlation), and the estimate's
convergence with the sample count.
"""
from __future__ import annotations

from collections import Counter
from statistics import NormalDist

import numpy as np

from kei.optimizer.studies.uncertain import UncertainInput, load_uncertain_inputs, sample_values

PERCENTILES = (5, 25, 50, 75, 95)


def question_for(problem) -> str:
    """verdict where the floor decides it (max range, no range requirement), else a full solve."""
    return "verdict" if problem.objective == "max_range" and problem.min_range_km is None else "solve"


def params(samples: int, seed: int, inputs: tuple[UncertainInput, ...] | None = None) -> dict:
    inputs = inputs if inputs is not None else load_uncertain_inputs()
    return {"samples": int(samples), "seed": int(seed), "inputs": [x.to_dict() for x in inputs]}


def study(spec: dict, run) -> dict:
    inputs = tuple(UncertainInput(**x) for x in spec["inputs"])
    question = question_for(run.problem)
    points = [run.point(question, [x.override(v) for x, v in zip(inputs, sample_values(inputs, spec["seed"], i))])
              for i in range(spec["samples"])]
    results = run.solve(points, total=len(points))
    values = np.array([sample_values(inputs, spec["seed"], i) for i in range(spec["samples"])]).reshape(-1, len(inputs))
    return summarize(results, inputs, values, run.problem, run.settings.confidence, question)


def wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (holds at k = 0 and k = n, unlike the normal one)."""
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def _stats(x: np.ndarray) -> dict | None:
    if not len(x):
        return None
    return {"n": int(len(x)), "mean": float(x.mean()), "min": float(x.min()), "max": float(x.max()),
            **{f"p{q}": float(np.percentile(x, q)) for q in PERCENTILES}}


def _parts(design: dict | None) -> str | None:
    return None if not design else f"{design['cell']} / {design['motor']} / {design['body']}"


def _rank(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(_rank(x), _rank(y))[0, 1])


def summarize(results: list[dict], inputs, values: np.ndarray, problem, confidence: float, question: str) -> dict:
    n = len(results)
    if question == "verdict":
        feasible = np.array([bool(r.get("feasible")) for r in results])
        floor = np.array([r.get("floor_price_usd") if r.get("floor_price_usd") is not None else np.nan for r in results])
        best = [r.get("best") for r in results]
        floor_parts = Counter(_parts(r.get("floor_design")) for r in results if r.get("floor_design"))
    else:
        feasible = np.array([r["status"] == "optimal" for r in results])
        floor = np.array([r["price_usd"] if r["status"] == "optimal" else np.nan for r in results])
        best = [r if r["status"] == "optimal" else None for r in results]
        floor_parts = Counter()
    best_range = np.array([b["verified_range_km"] for b in best if b])
    best_parts = Counter(_parts(b) for b in best if b)
    k = int(feasible.sum())
    lo, hi = wilson(k, n, confidence)
    checkpoints = sorted({min(n, 2**j) for j in range(4, 64) if 2**j < n} | {n}) if n else []
    convergence = []
    for m in checkpoints:
        km = int(feasible[:m].sum())
        a, b = wilson(km, m, confidence)
        f = floor[:m][np.isfinite(floor[:m])]
        convergence.append({"samples": m, "probability": km / m, "low": a, "high": b,
                            "mean_floor_usd": float(f.mean()) if len(f) else None})
    has_floor = np.isfinite(floor)
    correlation = {x.name: spearman(values[has_floor, j], floor[has_floor]) for j, x in enumerate(inputs)}
    ranked = sorted(correlation.items(), key=lambda kv: -abs(kv[1]) if kv[1] is not None else 0.0)
    metric = "floor_price_usd" if question == "verdict" else "price_usd"
    return {
        "question": question, "price_cap_usd": problem.price_cap_usd, "samples": n, "feasible_samples": k,
        "probability": k / n if n else None, "confidence": confidence, "interval": [lo, hi],
        metric: _stats(floor[has_floor]), "no_design_at_any_price": int((~has_floor).sum()),
        "best_range_km": _stats(best_range),
        "floor_parts": dict(floor_parts.most_common()), "best_parts": dict(best_parts.most_common()),
        "rank_correlation_with_floor": dict(ranked), "convergence": convergence,
        "inputs": [{"name": x.name, "key": x.key, "apply": x.apply, "low": x.low, "high": x.high,
                    "distribution": x.distribution} for x in inputs],
    }


def table(result) -> str:
    s = result.summary
    cap = s["price_cap_usd"]
    lines = [f"{result.spec['problem']}: Monte Carlo, {s['samples']:,} samples (seed {result.spec['seed']}), "
             f"{len(s['inputs'])} uncertain inputs"]
    if s["probability"] is not None:
        lines.append(f"  a design at ${cap:,.0f}: {s['feasible_samples']:,} of {s['samples']:,} samples = "
                     f"{s['probability']:.2%} ({s['confidence']:.0%} interval {s['interval'][0]:.2%} - {s['interval'][1]:.2%})")
    key = "floor_price_usd" if s["question"] == "verdict" else "price_usd"
    label = "floor price" if s["question"] == "verdict" else "price"
    if s.get(key):
        f = s[key]
        lines.append(f"  {label:<12}  median ${f['p50']:,.0f}, 90 % of samples ${f['p5']:,.0f} - ${f['p95']:,.0f} "
                     f"(min ${f['min']:,.0f}, max ${f['max']:,.0f})")
    if s["best_range_km"]:
        r = s["best_range_km"]
        lines.append(f"  best range    at the cap, {r['n']} feasible samples: median {r['p50']:.0f} km, "
                     f"{r['p5']:.0f} - {r['p95']:.0f} km")
    else:
        lines.append("  best range    no sample has a design at the cap")
    if s["no_design_at_any_price"]:
        lines.append(f"  {s['no_design_at_any_price']} samples have no design at any price")
    for title, counts in (("floor design parts (cell / motor / body)", s["floor_parts"]),
                          ("best design parts at the cap", s["best_parts"])):
        if counts:
            lines.append(f"  {title}:")
            total = sum(counts.values())
            for parts, count in list(counts.items())[:5]:
                lines.append(f"    {count / total:6.1%}  {parts}")
    lines.append("  what moves the floor (Spearman rank correlation):")
    for name, rho in list(s["rank_correlation_with_floor"].items())[:6]:
        lines.append(f"    {rho:+.2f}  {name}" if rho is not None else f"     n/a  {name}")
    return "\n".join(lines)
