"""Performance needs as each pair's test-mass limit (0-100 km/h, top speed, grade, cycle following).

The limits are computed exactly per pair outside the MILP (optimizer/performance.py); here they bound
the pair's share of the test mass. Pairs whose limit is above any mass they can reach get no row.
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def add_performance(m, d: ModelData) -> None:
    rows = [p for p in range(d.n_pairs) if np.isfinite(d.pair_perf_max_kg[p])
            and d.pair_perf_max_kg[p] < d.pair_struct_hi_kg[p]]
    m.PERF_PAIRS = pyo.Set(initialize=rows, ordered=True)
    m.performance_mass = pyo.Constraint(
        m.PERF_PAIRS,
        rule=lambda m, p: m.pair_mass[p] - m.slack["performance_kg"] <= float(d.pair_perf_max_kg[p]) * m.pair[p])
