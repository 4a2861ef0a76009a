"""The extend= hook: a user constraint changes the answer, and verification, --top, the binding
report and the explanation of an infeasible problem all carry it."""
import pyomo.environ as pyo
import pytest

import kei
from kei.errors import InfeasibleError

CAP_USD = 22000.0


def pack_mass_cap(kg):
    def extend(model, data):
        model.pack_mass_cap = pyo.Constraint(expr=model.pack_mass_kg <= kg)
    return extend


@pytest.fixture(scope="module")
def free():
    return kei.solve("us_kei_15k", price_cap_usd=CAP_USD).best


def test_a_user_constraint_changes_the_answer_and_every_design_is_verified_and_within_it(free):
    sol = kei.solve("us_kei_15k", price_cap_usd=CAP_USD, extend=pack_mass_cap(150.0), top=3)
    assert free.pack_mass_kg > 150.0
    assert len(sol.designs) == 3 and sol.user_constraints == ["pack_mass_cap"]
    for x in sol.designs:
        assert x.pack_mass_kg <= 150.0 + 1e-6
        assert x.verified_range_km is not None and abs(x.drift) < 0.01
    assert sol.best.range_km < free.range_km                # the cap costs range
    ranks = [x.range_km for x in sol.designs]
    assert ranks == sorted(ranks, reverse=True)


def test_a_binding_user_constraint_is_reported():
    # Cap the pack's energy at exactly what the free optimum uses: the same design, at the bound.
    probe = kei.solve("us_kei_150km").best

    def energy_cap(model, data):
        model.pack_energy_cap = pyo.Constraint(expr=model.pack_energy_wh <= probe.pack_energy_wh)

    best = kei.solve("us_kei_150km", extend=energy_cap).best
    assert best.pack_energy_wh == pytest.approx(probe.pack_energy_wh, rel=1e-9)
    assert "user:pack_energy_cap" in [b["name"] for b in best.binding]


def test_an_impossible_user_constraint_is_explained_as_possibly_the_users():
    with pytest.raises(InfeasibleError) as err:
        kei.solve("us_kei_150km", extend=pack_mass_cap(20.0))
    assert "extend=" in err.value.explanation and err.value.details["user_constraints"] is True
