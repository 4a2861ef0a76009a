"""Motor and body, chosen together as one motor x body pair (one binary each).

Energy per km, performance limits and mass ranges are exact per pair, so the pair is the natural
decision; the motor and body choices are sums of pair binaries. The pack must sit inside the chosen
motor's DC voltage window at both ends of its charge (its power: power.py).
"""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def add_drive(m, d: ModelData) -> None:
    pairs = range(d.n_pairs)
    m.PAIRS = pyo.Set(initialize=pairs, ordered=True)
    m.pair = pyo.Var(m.PAIRS, within=pyo.Binary, doc="motor x body pair chosen")
    m.one_pair = pyo.Constraint(expr=pyo.quicksum(m.pair[p] for p in pairs) == 1)
    by_motor: dict[int, list[int]] = {}
    by_body: dict[int, list[int]] = {}
    for p in pairs:
        by_motor.setdefault(int(d.pair_motor[p]), []).append(p)
        by_body.setdefault(int(d.pair_body[p]), []).append(p)
    m.MOTORS = pyo.Set(initialize=sorted(by_motor), ordered=True)
    m.BODIES = pyo.Set(initialize=sorted(by_body), ordered=True)
    m.motor_chosen = pyo.Expression(m.MOTORS, rule=lambda m, i: pyo.quicksum(m.pair[p] for p in by_motor[i]))
    m.body_chosen = pyo.Expression(m.BODIES, rule=lambda m, i: pyo.quicksum(m.pair[p] for p in by_body[i]))

    def motor_sum(values):
        return pyo.quicksum(float(values[i]) * m.motor_chosen[i] for i in m.MOTORS)

    # Empty pack at the cells' minimum voltage still above the inverter's minimum input...
    m.voltage_min = pyo.Constraint(expr=m.pack_vmin_v + m.slack["voltage_v"] >= motor_sum(d.motor_vmin_v))
    # ...and a full pack at the cells' maximum voltage below its maximum.
    m.voltage_max = pyo.Constraint(expr=m.pack_vmax_v - m.slack["voltage_v"] <= motor_sum(d.motor_vmax_v))
