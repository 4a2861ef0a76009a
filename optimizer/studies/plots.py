"""One figure per study kind, from a StudyResult (files only: png, pdf, svg)."""
from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # files only; the machines have no screen
    import matplotlib.pyplot as plt

    return plt


def plot_study(result, path: str) -> None:
    plt = _plt()
    fig = {"montecarlo": _montecarlo, "tornado": _tornado, "sweep": _sweep, "breakeven": _breakeven,
           "pareto": _pareto}[result.kind](plt, result)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _montecarlo(plt, result):
    s = result.summary
    rows = [r["result"] for r in result.rows]
    key = "floor_price_usd" if s["question"] == "verdict" else "price_usd"
    floor = np.array([r.get(key) for r in rows if r.get(key) is not None], dtype=float)
    best = [r.get("best") if s["question"] == "verdict" else (r if r["status"] == "optimal" else None) for r in rows]
    ranges = np.array([b["verified_range_km"] for b in best if b], dtype=float)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    ax = axes[0]
    if len(floor):
        ax.hist(floor, bins=50, color="tab:blue", alpha=0.8)
    ax.axvline(s["price_cap_usd"], color="tab:red", lw=1.5, label=f"cap ${s['price_cap_usd']:,.0f}")
    ax.set_xlabel("floor price (USD)" if key == "floor_price_usd" else "price (USD)")
    ax.set_ylabel("samples")
    ax.legend()
    ax = axes[1]
    if len(ranges):
        ax.hist(ranges, bins=30, color="tab:green", alpha=0.8)
        ax.set_xlabel(f"best range at the cap (km), {len(ranges)} feasible samples")
    else:
        ax.text(0.5, 0.5, "no sample has a design at the cap", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("best range at the cap (km)")
    ax = axes[2]
    conv = s["convergence"]
    n = [c["samples"] for c in conv]
    ax.fill_between(n, [100 * c["low"] for c in conv], [100 * c["high"] for c in conv], color="tab:orange", alpha=0.3,
                    label=f"{s['confidence']:.0%} interval")
    ax.plot(n, [100 * c["probability"] for c in conv], color="tab:orange", marker="o", ms=3, label="estimate")
    ax.set_xscale("log")
    ax.set_xlabel("samples")
    ax.set_ylabel(f"P(design at ${s['price_cap_usd']:,.0f}) (%)")
    ax.legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"{result.spec['problem']}: Monte Carlo, {s['samples']:,} samples, P = {100 * (s['probability'] or 0):.2f} % "
                 f"({100 * s['interval'][0]:.2f}-{100 * s['interval'][1]:.2f} %)")
    return fig


def _tornado(plt, result):
    s = result.summary
    bars = [b for b in s["bars"] if b["value_at_low"] is not None or b["value_at_high"] is not None][::-1]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(bars) + 1.8))
    base = s["base_value"]
    for i, b in enumerate(bars):
        for value, color in ((b["value_at_low"], "tab:blue"), (b["value_at_high"], "tab:red")):
            if value is not None and base is not None:
                ax.barh(i, value - base, left=base, color=color, alpha=0.8)
    ax.set_yticks(range(len(bars)), [f"{b['name']} ({b['low']:g} / {b['high']:g})" for b in bars])
    if base is not None:
        ax.axvline(base, color="black", lw=1)
    if s["metric"] != "range":
        ax.axvline(s["price_cap_usd"], color="tab:green", lw=1.5, ls="--", label=f"cap ${s['price_cap_usd']:,.0f}")
        ax.legend(loc="lower right")
    unit = "km" if s["metric"] == "range" else "USD"
    ax.set_xlabel(f"{s['metric']} ({unit}): blue at the low end, red at the high end")
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(f"{result.spec['problem']}: tornado")
    return fig


def _sweep(plt, result):
    s = result.summary
    values = [p["value"] for p in s["points"]]
    unit = "km" if s["metric"] == "range" else "USD"
    label = lambda a: a["key"] + (" (factor)" if a["op"] == "*=" else "")  # noqa: E731
    if len(s["axes"]) == 1:
        x = [p["values"][0] for p in s["points"]]
        fig, ax = plt.subplots(figsize=(9, 5))
        y = np.array([v if v is not None else np.nan for v in values], dtype=float)
        ax.plot(x, y, marker="o", color="tab:blue", label=s["metric"])
        missing = [xi for xi, v in zip(x, values) if v is None]
        if missing:
            ax.plot(missing, [np.nanmin(y) if np.isfinite(y).any() else 0] * len(missing), "x", color="tab:red",
                    label="no design")
        ax.set_xlabel(label(s["axes"][0]))
        ax.set_ylabel(f"{s['metric']} ({unit})")
        ax.legend()
        ax.grid(alpha=0.3)
    else:
        nx, ny = s["shape"]
        grid = np.array([v if v is not None else np.nan for v in values], dtype=float).reshape(nx, ny)
        xs = sorted({p["values"][0] for p in s["points"]})
        ys = sorted({p["values"][1] for p in s["points"]})
        fig, ax = plt.subplots(figsize=(9, 6))
        mesh = ax.pcolormesh(ys, xs, np.ma.masked_invalid(grid), shading="nearest", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=f"{s['metric']} ({unit}); blank: no design")
        ax.set_xlabel(label(s["axes"][1]))
        ax.set_ylabel(label(s["axes"][0]))
    ax.set_title(f"{result.spec['problem']}: sweep")
    return fig


def _breakeven(plt, result):
    s = result.summary
    fig, ax = plt.subplots(figsize=(9, 5))
    pts = []
    for row in result.rows:
        value = row["set"][-1][2]
        r = row["result"]
        y = r.get("floor_price_usd") if s["question"] == "verdict" else r.get("price_usd")
        pts.append((value, y, r))
    pts.sort(key=lambda t: t[0])
    ax.plot([p[0] for p in pts], [p[1] if p[1] is not None else np.nan for p in pts], marker="o",
            label="floor price" if s["question"] == "verdict" else "price")
    if s["found"]:
        ax.axvspan(*s["bracket"], color="tab:orange", alpha=0.4, label=f"flip at {s['value']:.4g}")
    if s["question"] == "verdict":
        ax.axhline(s["price_cap_usd"], color="tab:red", ls="--", label=f"cap ${s['price_cap_usd']:,.0f}")
    ax.set_xlabel(s["key"] + (" (factor)" if s["op"] == "*=" else ""))
    ax.set_ylabel("USD")
    ax.legend()
    ax.grid(alpha=0.3)
    ax.set_title(f"{result.spec['problem']}: break-even")
    return fig


def _pareto(plt, result):
    s = result.summary
    pts = [p for p in s["points"] if p["status"] == "optimal"]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    groups: dict = {}
    for p in pts:
        groups.setdefault(f"{p['motor']} / {p['body']} / {p['cell']}", []).append(p)
    ax.plot([p["price_usd"] for p in pts], [p["verified_range_km"] for p in pts], color="grey", lw=1, zorder=1)
    for name, ps in groups.items():
        ax.scatter([p["price_usd"] for p in ps], [p["verified_range_km"] for p in ps], label=name, zorder=2, s=18)
    ax.set_xlabel("price (USD)")
    ax.set_ylabel("range (km, verified by simulation)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(f"{result.spec['problem']}: price-range front ({len(pts)} optima)")
    return fig
