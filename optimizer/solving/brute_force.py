"""Exhaustive enumeration of the same design model the MILP solves: the test oracle and the
benchmark's baseline.

Every (cell, parallel, series, motor, body) combination is evaluated with numpy, one motor at a time
(its pairs x every pack). The continuous lightweighting is solved exactly per combination: range
grows with mass removed and price with its convex cost, so for max range the best mass removal is
the most the budget and the glider allow, and for min price the least the range and mass limits
need. Nothing here shares code with the Pyomo builders: the two agree only if both are right.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from kei.optimizer.prepare.model_data import ModelData

FEAS_TOL = 1e-9  # relative slack on limits, below the MILP's feasibility tolerance


@dataclass(frozen=True)
class Enumerated:
    value: float            # km for max_range, USD for min_price
    cell: str
    parallel: int
    series: int
    motor: str
    body: str
    lightweighting_kg: float
    site: str = ""          # assembly site (a site of the price model)
    options: tuple[str, ...] = ()  # content options chosen, one per group (content.toml)

    @property
    def parts(self) -> tuple[str, str, str]:
        return (self.cell, self.motor, self.body)


@dataclass
class BruteForceResult:
    best: list[Enumerated]   # the best design of each of the `top` best (cell, motor, body) groups
    combinations: int        # discrete combinations evaluated
    seconds: float


def lw_cost(d: ModelData, kg: np.ndarray) -> np.ndarray:
    ends = np.cumsum(d.lw_width_kg)
    out = np.zeros_like(kg, dtype=float)
    for start, width, cost in zip(ends - d.lw_width_kg, d.lw_width_kg, d.lw_cost_usd_per_kg):
        out += np.clip(kg - start, 0.0, width) * cost
    return out


def lw_affordable(d: ModelData, budget_usd: np.ndarray) -> np.ndarray:
    """Most kg the budget buys, cheapest segments first."""
    out = np.zeros_like(budget_usd, dtype=float)
    spent = 0.0
    for width, cost in zip(d.lw_width_kg, d.lw_cost_usd_per_kg):
        if cost > 0:
            out += np.clip((budget_usd - spent) / cost, 0.0, width)
        else:
            out += np.where(budget_usd >= spent, width, 0.0)
        spent += width * cost
    return out


def _parallel_bound(d: ModelData) -> np.ndarray:
    """Per cell, as many strings as could possibly fit: the largest kept body's battery space over the
    pack volume of the fewest cells in series any kept motor's lowest input voltage needs (the
    catalog's `pack.max_parallel` on top when it sets one). Computed here from the screened parts, not
    taken from the model's layouts, so the volume and voltage checks below decide what fits: if the
    model's own bound cut a feasible pack, the two would disagree."""
    pack = d.catalog.pack
    fewest = np.maximum(pack.min_series, np.ceil(d.motor_vmin_v.min(initial=np.inf) / d.cell_vmin_v - FEAS_TOL))
    with np.errstate(invalid="ignore"):
        bound = np.floor(d.body_volume_l.max(initial=0.0) * (1 + FEAS_TOL) / (fewest * d.cell_pack_volume_l))
    bound = np.nan_to_num(bound, nan=0.0, posinf=0.0)
    if pack.max_parallel is not None:
        bound = np.minimum(bound, pack.max_parallel)
    return bound.astype(int)


def option_combinations(d: ModelData) -> list[tuple[int, ...]]:
    """Every choice of one content option per group (indices into d.content.options)."""
    cd = d.content
    if cd is None or not cd.options:
        return [()]
    return [tuple(int(i) for i in c) for c in itertools.product(*(cd.group_members(g) for g in range(len(cd.groups))))]


def enumerate_designs(d: ModelData, top: int = 1, pack_series: tuple[int, int] | None = None) -> BruteForceResult:
    """Best designs by exhaustive enumeration. `d` should come from `prepare(..., price_screen=False)`
    so that no pair is left out on price; the price cap is checked here."""
    t0 = time.perf_counter()
    pack = d.catalog.pack
    s_lo, s_hi = pack_series or (pack.min_series, pack.max_series)
    p_hi = _parallel_bound(d)
    cell_idx, par, ser = (a.ravel() for a in np.meshgrid(
        np.arange(len(d.cells)), np.arange(pack.min_parallel, max(int(p_hi.max(initial=0)), pack.min_parallel) + 1),
        np.arange(s_lo, s_hi + 1), indexing="ij"))
    keep = par <= p_hi[cell_idx]
    cell_idx, par, ser = cell_idx[keep], par[keep], ser[keep]
    n = par * ser
    energy = n * d.cell_energy_wh[cell_idx]
    packmass = n * d.cell_pack_mass_kg[cell_idx]
    volume = n * d.cell_pack_volume_l[cell_idx]
    vmin, vmax = ser * d.cell_vmin_v[cell_idx], ser * d.cell_vmax_v[cell_idx]
    power = n * d.cell_peak_power_w[cell_idx]
    cont_power = n * d.cell_continuous_power_w[cell_idx]
    loss = d.cell_loss_wh_per_w[cell_idx]
    charge_w = n * d.cell_charge_power_w[cell_idx]
    no_lines = np.zeros((d.n_pairs, 0))
    charge_a = d.fit.charge_a_wh_per_km_per_kg if d.fit.charge_a_wh_per_km_per_kg is not None else no_lines
    charge_b = d.fit.charge_b_wh_per_km_per_w if d.fit.charge_b_wh_per_km_per_w is not None else no_lines
    charge_c = d.fit.charge_c_wh_per_km if d.fit.charge_c_wh_per_km is not None else no_lines
    factor, mult = d.range_energy_factor, d.price_per_bom
    cap, r_min = d.price_cap_usd, d.min_range_km
    maximize = d.problem.objective == "max_range"
    groups: dict[tuple, Enumerated] = {}
    option_sets = option_combinations(d)
    combos = len(n) * len(d.motors) * len(d.bodies) * len(option_sets)
    cd = d.content
    for opts, m in itertools.product(option_sets, range(len(d.motors))):
        opt_mass = float(sum(cd.option_mass_kg[i] for i in opts)) if opts else 0.0
        opt_usd = float(sum(cd.option_cost_usd[i] for i in opts)) if opts else 0.0
        energy_k = [k for k, o in enumerate(cd.energy_options) if o in opts] if opts else []
        rows = np.flatnonzero(d.pair_motor == m)
        if not len(rows):
            continue
        b = d.pair_body[rows]
        # Packs in the motor's window with its peak power that fit at least one of its bodies (each
        # pair's own volume is checked below): the rest can never be chosen with this motor.
        cols = np.flatnonzero((vmin >= d.motor_vmin_v[m] * (1 - FEAS_TOL)) & (vmax <= d.motor_vmax_v[m] * (1 + FEAS_TOL))
                              & (power >= d.motor_pack_power_w[m] * (1 - FEAS_TOL))
                              & (volume <= d.body_volume_l[b].max() * (1 + FEAS_TOL)))
        if not len(cols):
            continue
        col = lambda x: np.asarray(x, dtype=float)[:, None]           # noqa: E731  per pair
        row = lambda x: np.asarray(x, dtype=float)[None, :]           # noqa: E731  per pack
        base = col(d.body_mass_kg[b] + d.motor_mass_kg[m] + d.fixed_mass_kg + opt_mass + d.payload_kg)
        mass0 = base + row(packmass[cols])
        hi = np.minimum(d.pair_struct_hi_kg[rows], d.pair_perf_max_kg[rows])
        if d.max_test_mass_kg is not None:
            hi = np.minimum(hi, d.max_test_mass_kg)
        # Each continuous need (w0 + w_per_kg x mass <= the pack's continuous power) is a mass limit
        # per (pair, pack); a need that does not grow with mass is met or not.
        hi = col(hi) * np.ones_like(mass0)
        for k in range(len(d.continuous_needs)):
            w0, w_kg = col(d.continuous_need_w0[k, rows]), col(d.continuous_need_w_per_kg[k, rows])
            room = row(cont_power[cols]) * (1 + FEAS_TOL) - w0
            with np.errstate(divide="ignore", invalid="ignore"):
                hi = np.minimum(hi, np.where(w_kg > 0, room / np.where(w_kg > 0, w_kg, 1.0),
                                             np.where(room >= 0, np.inf, -np.inf)))
        l_lo = np.maximum(0.0, mass0 - hi * (1 + FEAS_TOL))
        if d.max_unladen_excl_battery_kg is not None:
            unladen = d.body_mass_kg[b] + d.motor_mass_kg[m] + d.fixed_mass_kg + opt_mass
            l_lo = np.maximum(l_lo, col(unladen - d.max_unladen_excl_battery_kg * (1 + FEAS_TOL)))
        l_hi = col(d.body_lw_max_kg[b]) * np.ones_like(mass0)
        sd = d.sites
        ok_parts = (row(volume[cols]) <= col(d.body_volume_l[b]) * (1 + FEAS_TOL)) & (l_lo <= l_hi)
        # One pass per assembly site: its coefficients make the cost linear in the parts (prepare/sites.py).
        for site in range(len(sd.names)):
            lwf = float(sd.lw_factor[site])
            bom0 = (col(sd.body_usd[site, b] + sd.motor_usd[site, m] + sd.fixed_usd[site] + lwf * opt_usd)
                    + row(n[cols] * sd.cell_usd[site, cell_idx[cols]]))
            corr = col(d.correction[rows])
            # Energy per km = a + k x test mass: the corrected pair line plus the chosen options' deltas.
            a = corr * col(d.fit.intercept_wh_per_km[rows])
            k = corr * col(d.fit.slope_wh_per_km_per_kg[rows])
            for j in energy_k:
                a = a + col(d.fit.option_intercept_wh_per_km[rows, j])
                k = k + col(d.fit.option_slope_wh_per_km_per_kg[rows, j])
            num = factor * (row(energy[cols]) - row(loss[cols]) * col(d.fit.loss_power_w[rows]))
            # The charge-limit loss (unfactored) makes the energy per km the largest of the pieces
            # a + k m and a + b_j P + c_j + (k + a_j) m: convex and rising in the test mass m.
            pieces = [(a, k)] + [(a + col(charge_b[rows, j]) * row(charge_w[cols]) + col(charge_c[rows, j]),
                                  k + col(charge_a[rows, j])) for j in range(charge_a.shape[1])]
            energy_at = lambda mass: np.max([i + g * mass for i, g in pieces], axis=0)  # noqa: E731
            ok = ok_parts.copy()
            if maximize:
                budget = (cap / mult - bom0) if cap is not None else np.full_like(bom0, np.inf)
                l_star = np.where(k > 0, np.minimum(l_hi, lw_affordable(d, budget * (1 + FEAS_TOL) / lwf)), l_lo)
                ok &= (l_star >= l_lo - 1e-9) & (lwf * lw_cost(d, l_lo) <= budget * (1 + FEAS_TOL) + 1e-9)
                value = num / energy_at(mass0 - l_star)
                if r_min is not None:
                    ok &= value >= r_min * (1 - FEAS_TOL)
                l_best = l_star
            else:
                l_need = l_lo
                if r_min is not None:
                    # Each rising piece i + g m <= num / r_min bounds the mass; the check below takes the rest.
                    for i, g in pieces:
                        with np.errstate(divide="ignore", invalid="ignore"):
                            l_need = np.maximum(l_need, np.where(g > 0, mass0 - (num / r_min - i) / np.where(g > 0, g, 1.0),
                                                                 -np.inf))
                    ok &= num >= r_min * energy_at(mass0 - np.minimum(l_need, l_hi)) * (1 - FEAS_TOL)
                ok &= l_need <= l_hi + 1e-9
                l_need = np.minimum(l_need, l_hi)
                value = mult * (bom0 + lwf * lw_cost(d, l_need))
                if cap is not None:
                    ok &= value <= cap * (1 + FEAS_TOL)
                l_best = l_need
            if sd.has_rvc[site]:   # the site's regional-content rule, at the chosen mass removal
                rvc = (col(sd.rvc_body[site, b] + sd.rvc_motor[site, m] + sd.rvc_fixed[site])
                       + row(n[cols] * sd.rvc_cell[site, cell_idx[cols]])
                       + sd.rvc_lw[site] * (lw_cost(d, l_best) + opt_usd))
                ok &= rvc <= 1e-6
            if sd.has_core[site]:  # the battery's own regional content (a USMCA core part)
                ok &= row(n[cols] * sd.core_cell[site, cell_idx[cols]]) <= 1e-6
            score = np.where(ok, value if maximize else -value, -np.inf)
            # Best per (cell, body) for this motor: the groups --top K ranks (top 1: the best overall).
            cells_here = cell_idx[cols]
            for c in (np.unique(cells_here) if top > 1 else [None]):
                sub = score if c is None else np.where(cells_here[None, :] == c, score, -np.inf)
                best_col = sub.argmax(axis=1)
                best_val = sub[np.arange(len(rows)), best_col]
                for r in (np.flatnonzero(np.isfinite(best_val)) if top > 1 else
                          [int(np.argmax(best_val))] if np.isfinite(best_val).any() else []):
                    j = cols[best_col[r]]
                    key = (d.cells[cell_idx[j]].id, d.motors[m].id, d.bodies[b[r]].id)
                    val = float(value[r, best_col[r]])
                    cand = Enumerated(val, key[0], int(par[j]), int(ser[j]), key[1], key[2], float(l_best[r, best_col[r]]),
                                      sd.names[site], tuple(cd.options[i].id for i in opts) if opts else ())
                    old = groups.get(key)
                    if old is None or (val > old.value if maximize else val < old.value):
                        groups[key] = cand
    ranked = sorted(groups.values(), key=lambda e: -e.value if maximize else e.value)
    return BruteForceResult(best=ranked[:top], combinations=combos, seconds=time.perf_counter() - t0)
