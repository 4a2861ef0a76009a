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


def test_the_user_constraint_that_makes_a_problem_infeasible_is_named():
    def two(model, data):
        pack_mass_cap(20.0)(model, data)                                  # no pack is this light
        model.energy_floor = pyo.Constraint(expr=model.pack_energy_wh >= 1000.0)   # every pack meets it
    with pytest.raises(InfeasibleError) as err:
        kei.solve("us_kei_150km", extend=two)
    details = err.value.details
    assert details["user_constraints"] is True and details["feasible_without_user_constraints"] is True
    assert details["user_constraint_conflict"] == ["pack_mass_cap"]
    assert "feasible without the constraints added by extend=" in err.value.explanation
    assert "'pack_mass_cap' makes it infeasible" in err.value.explanation and "energy_floor'" not in err.value.explanation
    # The design it reports without them is a real one: the problem solves without the hook.
    assert kei.solve("us_kei_150km", verify=False).best.price_usd <= float(
        err.value.explanation.split("$")[1].split(")")[0].replace(",", "")) + 1.0


def test_a_problem_infeasible_without_the_user_constraints_says_so():
    with pytest.raises(InfeasibleError) as err:
        kei.solve("us_kei_15k", extend=pack_mass_cap(1e6))
    assert err.value.details["feasible_without_user_constraints"] is False
    assert "against the $15,000 cap" in err.value.explanation
    assert "infeasible without the constraints added by extend= too" in err.value.explanation
