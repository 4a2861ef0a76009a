"""The pack's power, at two time scales (a cell's pulse rating and its continuous rating).

- Peak: the pack at its cells' peak (pulse, ~10 s) rate feeds what the motor draws at full power,
  plus the auxiliaries: acceleration and a cycle's 1-s power peaks stay motor-limited.
- Continuous: the pack at its cells' continuous rate feeds what each continuous need draws (holding
  top speed on the level, holding the grade at its speed), which grows with the test mass. The draw
  is linear in mass per pair (data.py `_continuous_needs`), so with the pair's share of the test mass
  (`pair_mass`, exact disaggregation in mass.py) the constraint is linear and exact.

Pack power is per cell times cells (pack.py), linear in the layout series counts.
"""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def add_pack_power(m, d: ModelData, elastic: bool = False) -> None:
    """`elastic`: the explanation model, whose slacks may shrink the pack below what the motor's peak
    needs; every pair then gets its continuous rows (otherwise only pairs where a need can bind)."""
    m.pack_peak_power = pyo.Constraint(
        expr=m.pack_peak_power_w + m.slack["pack_peak_power_w"]
        >= pyo.quicksum(float(d.motor_pack_power_w[i]) * m.motor_chosen[i] for i in m.MOTORS))
    # A need's row sums over the pairs where it can bind; for the others the smallest pack their motor
    # runs on already holds it (data.py), so leaving them out (0 on the right) changes no feasible set.
    rows = {k: [p for p in m.PAIRS if elastic or d.continuous_need_can_bind[k, p]] for k in range(len(d.continuous_needs))}
    m.CONTINUOUS_NEEDS = pyo.Set(initialize=[k for k, pairs in rows.items() if pairs], ordered=True)
    m.pack_continuous_power = pyo.Constraint(
        m.CONTINUOUS_NEEDS,
        rule=lambda m, k: m.pack_continuous_power_w + m.slack["pack_continuous_power_w"]
        >= pyo.quicksum(float(d.continuous_need_w0[k, p]) * m.pair[p]
                        + float(d.continuous_need_w_per_kg[k, p]) * m.pair_mass[p] for p in rows[k]))
