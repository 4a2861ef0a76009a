"""What a pack's charge acceptance costs: regeneration the cells cannot take, per motor x body pair.

The energy fit (fit.py) runs on a pack that takes any current. A real pack absorbs at most its
cells' charge current: braking power above that goes to the friction brakes, and the energy per km
rises. For a pack of N cells the limit is N x (v i + i^2 r) at the cell's charge current i (W at
the terminals), so it is linear in the layout's series count like every other pack quantity.

The extra energy per km L(P, m) of a pair at charge limit P and test mass m is measured with the
same batch model at charge limits x = P / m on a grid (`charge_limit_*` in configs/solver.toml) and
at their midpoints, at the pair's lightest and heaviest test mass. L is convex in P (the clipped
energy is a sum of max(0, regeneration - limit) terms, each convex) and, as braking power is nearly
affine in mass, jointly convex in (m, P) to a good approximation. Per grid segment the model takes
the plane through the segment's six points (two masses x two levels and the midpoint; per mass the
levels' values on the convex hull in x) by least squares, lowered until it lies on or below every one
of them:
    L >= a_j m + b_j P + c_j
whose maximum the MILP takes through one epigraph row per plane (milp/consumption.py). Lowered, a
plane stays on the optimistic side the certificate's premise needs (solving/certificate.py).
Measured against the energy model between the grid points (tests/unit/test_charge_limit.py): above
the model by at most ~0.04 % of the energy per km, below it by up to ~0.5 % from 4 to 16 W/kg.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kei.optimizer.prepare.charge_lines import lower_hull
from kei.optimizer.prepare.fit import PairPhysics, pair_params
from kei.vehicle.cycles import Cycle
from kei.vehicle.energy import energy_per_km_batch


@dataclass(frozen=True)
class ChargeLimitFit:
    a_wh_per_km_per_kg: np.ndarray       # (pairs, K - 1) the planes L >= a m + b P + c
    b_wh_per_km_per_w: np.ndarray        # (pairs, K - 1)
    c_wh_per_km: np.ndarray              # (pairs, K - 1)
    variants: int


def charge_levels_w_per_kg(lo: float, hi: float, points: int) -> np.ndarray:
    """Geometric grid: the loss falls fastest at small limits."""
    return np.geomspace(lo, hi, points)


def fit_charge_limit(phys: PairPhysics, mass_lo_kg: np.ndarray, mass_hi_kg: np.ndarray, cycle: Cycle, defaults: dict,
                     levels_w_per_kg: np.ndarray, *, top_speed_kmh: float | None) -> ChargeLimitFit:
    n_pairs, k = len(mass_lo_kg), len(levels_w_per_kg)
    mids = 0.5 * (levels_w_per_kg[:-1] + levels_w_per_kg[1:])
    x = np.concatenate([levels_w_per_kg, mids, [np.inf]])           # per mass: levels, midpoints, no limit
    masses = np.stack([mass_lo_kg, mass_hi_kg], axis=1)             # (pairs, 2)
    reps = 2 * len(x)
    mass = np.repeat(masses[:, :, None], len(x), axis=2)            # (pairs, 2, x)
    params = pair_params(phys, defaults, reps, top_speed_kmh, mass_kg=mass.ravel(),
                         pack_max_charge_current_a=(mass * x[None, None, :]).ravel())  # 1 V pack: A = W
    whkm = energy_per_km_batch(params, cycle).reshape(n_pairs, 2, len(x))
    loss = np.maximum(whkm[:, :, :-1] - whkm[:, :, -1:], 0.0)                         # (pairs, 2, x) Wh/km
    # Per mass, the convex hull in the charge limit (the measured loss is convex in it).
    hull = np.array([[lower_hull(levels_w_per_kg, loss[p, i, :k] / masses[p, i]) * masses[p, i] for i in range(2)]
                     for p in range(n_pairs)])                                          # (pairs, 2, K)
    power = masses[:, :, None] * x[None, None, :-1]                                     # (pairs, 2, x) W
    planes = np.zeros((3, n_pairs, k - 1))                                            # c, a, b
    for j in range(k - 1):
        # The segment's corners (both masses, levels j and j + 1) and midpoints: a plane through them by
        # least squares, lowered until it lies on or below each of them.
        cols = [j, j + 1, k + j]
        pts = np.stack([np.ones((n_pairs, 6)), np.repeat(masses[:, :, None], 3, axis=2).reshape(n_pairs, 6),
                        power[:, :, cols].reshape(n_pairs, 6)], axis=2)                # (pairs, 6, 3)
        target = np.concatenate([hull[:, :, j:j + 2], loss[:, :, k + j:k + j + 1]], axis=2).reshape(n_pairs, 6)
        coef = np.einsum("pij,pj->pi", np.linalg.pinv(pts), target)                      # (pairs, 3)
        coef[:, 0] -= np.maximum(np.einsum("pij,pj->pi", pts, coef) - target, 0.0).max(axis=1)
        planes[:, :, j] = coef.T
    return ChargeLimitFit(c_wh_per_km=planes[0], a_wh_per_km_per_kg=planes[1], b_wh_per_km_per_w=planes[2],
                          variants=n_pairs * reps)
