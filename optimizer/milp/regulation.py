"""Mass limits of the regulatory class (dimensions and power caps are screened per part before)."""
from __future__ import annotations

import pyomo.environ as pyo

from kei.optimizer.prepare.model_data import ModelData


def add_regulation(m, d: ModelData) -> None:
    if d.max_test_mass_kg is not None:
        # Gross mass = curb + the class's rated load; as a test-mass limit with the test payload.
        m.gross_mass = pyo.Constraint(expr=m.test_mass_kg - m.slack["mass_kg"] <= d.max_test_mass_kg)
    if d.max_unladen_excl_battery_kg is not None:
        m.unladen_mass = pyo.Constraint(
            expr=m.curb_mass_kg - m.pack_mass_kg - m.slack["mass_kg"] <= d.max_unladen_excl_battery_kg)
