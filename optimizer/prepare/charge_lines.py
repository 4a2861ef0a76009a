"""The charge-limit loss as planes: the lower convex hull of measured points, and the planes' maximum.

Pure arithmetic: the hull for the fit (prepare/charge_limit.py), the loss a design's evaluation
reads off the planes (the MILP's epigraph rows, milp/consumption.py, take the same maximum).
"""
from __future__ import annotations

import numpy as np


def charge_loss_wh_per_km(a_wh_per_km_per_kg, b_wh_per_km_per_w, c_wh_per_km, mass_kg, charge_w):
    """L(P, m) as the MILP sees it: the largest plane a m + b P + c, never below 0. Broadcasts over
    mass and power (the planes on the last axis)."""
    a, b, c = (np.asarray(v, float) for v in (a_wh_per_km_per_kg, b_wh_per_km_per_w, c_wh_per_km))
    mass_kg, charge_w = np.asarray(mass_kg, float)[..., None], np.asarray(charge_w, float)[..., None]
    return np.maximum((a * mass_kg + b * charge_w + c).max(axis=-1, initial=0.0), 0.0)


def lower_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The lower convex hull of the points (x, y), evaluated at x (<= y everywhere)."""
    keep: list[int] = []
    for i in range(len(x)):
        while len(keep) >= 2 and _cross(x, y, keep[-2], keep[-1], i) <= 0:
            keep.pop()
        keep.append(i)
    return np.interp(x, x[keep], y[keep])


def _cross(x, y, i, j, k) -> float:
    """> 0 when j lies below the chord from i to k (a left turn)."""
    return (x[j] - x[i]) * (y[k] - y[i]) - (y[j] - y[i]) * (x[k] - x[i])
