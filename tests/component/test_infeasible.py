"""Impossible problems are explained with numbers, and the numbers are right (checked against the
exhaustive oracle where one applies)."""
import dataclasses
import math
import re

import pytest
from conftest import ROOT

from kei.errors import InfeasibleError
from kei.optimizer.inputs.catalog import load_catalog
from kei.optimizer.inputs.parts import BodySpec, Catalog, CellSpec, LightweightingSegment, MotorSpec, PackIntegration
from kei.optimizer.inputs.problem import load_problem, problem_from_dict
from kei.optimizer.prepare.model_data import prepare
from kei.optimizer.solving.brute_force import enumerate_designs
from kei.optimizer.solving.pipeline import solve
from kei.optimizer.solving.solver import load_solver_settings
from kei.vehicle.cycles import load_cycle
from kei.vehicle.files import load_model_defaults

CATALOG = load_catalog(ROOT / "configs" / "catalog")


def _problem(name, **changes):
    return dataclasses.replace(load_problem(ROOT / "configs" / "problems" / f"{name}.toml"), **changes)


def _explain(problem, catalog=CATALOG):
    with pytest.raises(InfeasibleError) as err:
        solve(problem, catalog=catalog, verify=False)
    assert err.value.explanation != "infeasible"
    return err.value


def _oracle(problem, **prep):
    d = prepare(CATALOG, problem, load_cycle(problem.cycle), load_model_defaults(), load_solver_settings(),
                price_screen=False, **prep)
    return enumerate_designs(d).best[0].value


def _dollars(text, after):
    return float(re.search(re.escape(after) + r" \$([\d,]+)", text).group(1).replace(",", ""))


def test_price_conflict_names_the_cheapest_price_and_it_is_the_true_minimum():
    problem = _problem("us_kei_150km", price_cap_usd=9000.0, min_range_km=None)
    err = _explain(problem)
    assert "against the $9,000 cap" in err.explanation
    cheapest = _oracle(dataclasses.replace(problem, objective="min_price"), price_cap_usd=math.inf)
    assert _dollars(err.explanation, "costs") == pytest.approx(cheapest, abs=1.0)
    assert err.details["cheapest_price_usd"] == pytest.approx(cheapest, rel=1e-6)


def test_range_conflict_names_the_best_range_at_the_cap_and_the_price_of_the_range():
    problem = _problem("us_kei_150km", min_range_km=900.0, price_cap_usd=25000.0)
    err = _explain(problem)
    assert "the best range at $25,000 is" in err.explanation and "against 900 km required" in err.explanation
    best = _oracle(dataclasses.replace(problem, objective="max_range"), min_range_km=0)
    assert err.details["best_range_at_cap_km"] == pytest.approx(best, rel=1e-5)
    assert "no design reaches 900 km at any price" in err.explanation
    # A cap above the floor ($19,026 with the FMVSS content lines) but below what 250 km costs.
    reachable = _explain(_problem("us_kei_150km", min_range_km=250.0, price_cap_usd=20000.0))
    assert "250 km takes $" in reachable.explanation
    assert reachable.details["price_for_min_range_usd"] > 20000.0


def test_no_body_within_the_width_says_which_is_closest():
    problem = _problem("jp_kei")
    problem = dataclasses.replace(problem, limits=dataclasses.replace(problem.limits, max_width_m=1.30))
    err = _explain(problem)
    narrowest = min(b.width_m for b in CATALOG.bodies)
    assert "exceed max_width_m = 1.3 m" in err.explanation and f"at {narrowest:g} m" in err.explanation


def test_cycle_faster_than_the_class_allows():
    err = _explain(_problem("eu_quadricycle", cycle="wltc_3b"))
    assert "above the eu_l7e speed cap of 90 km/h" in err.explanation


def test_acceleration_nobody_reaches_gives_the_best_time():
    problem = _problem("jp_kei")
    problem = dataclasses.replace(problem, performance=dataclasses.replace(problem.performance, max_accel_0_100_s=4.0))
    err = _explain(problem)
    assert "0-100 km/h in 4 s: the quickest pair at its lightest build takes" in err.explanation
    assert err.details["best_accel_0_100_s"] > 4.0


def test_joint_pack_conflict_is_explained_by_the_smallest_violation():
    """Cell A is light but bulky, cell B compact but heavy: one fits body b, the other the mass
    limit, neither both (the van holds cell A but is too heavy with any pack). The screens pass (each limit alone is met); the elastic MILP explains."""
    def cell(i, wh_per_kg, wh_per_l):
        wh = 100 * 3.65
        return CellSpec(f"cell_{i}", i, "nmc", "pouch", 100.0, 3.65, 2.9, 4.2, wh / wh_per_kg, wh / wh_per_l, 4.0, 1.0,
                        0.3, 100.0, "US", 4.0)
    catalog = Catalog(
        cells=(cell("a", 250.0, 200.0), cell("b", 120.0, 600.0)),
        motors=(MotorSpec("m", "m", 40.0, 20.0, 150.0, 12000.0, 0.93, "PMSM", 200.0, 400.0, 54.0, 1000.0, "US"),),
        bodies=(BodySpec("b", "b", "high_strength_steel", 3.4, 1.48, 1.6, 700.0, 0.33, 2.0, 0.009, 150.0, 0.0, True,
                         5000.0, "US"),
                # A roomy van too heavy for the class with any pack: cell_a's packs fit only here, so the
                # catalog's pack-layout bound (derived from the largest battery space) leaves cell_a in.
                BodySpec("van", "van", "high_strength_steel", 3.4, 1.48, 1.9, 1100.0, 0.40, 2.4, 0.009, 300.0, 0.0,
                         True, 5000.0, "US")),
        pack=PackIntegration(30.0, 0.65, 0.5, 20, 140, 1, 2), lightweighting=(LightweightingSegment(10.0, 5.0),))
    problem = problem_from_dict({
        "objective": "max_range", "cycle": "wltc_jp", "price_cap_usd": 1e6, "payload_kg": 100.0,
        "regulation": {"profile": "none", "max_gross_mass_kg": 1100.0, "gross_load_kg": 100.0},
        "price": {"model": "us_2025"}}, file="<joint>")
    err = _explain(problem, catalog)
    assert err.details["stage"] == "elastic"
    assert "kg over the class's mass limit" in err.explanation and "cell_b" in err.explanation
    # cell_b 69s1p: 69 x 3.04 kg / 0.65 = 323 kg pack; test mass 700 + 54 + 323 + 100 = 1177 kg > 1100 kg.
    assert err.details["mass_kg"] == pytest.approx(700 + 54 + 69 * 365 / 120 / 0.65 + 100 - 1100, rel=1e-6)


def _longest_km(problem, catalog):
    d = prepare(catalog, problem, load_cycle(problem.cycle), load_model_defaults(), load_solver_settings(),
                price_screen=False, price_cap_usd=math.inf, min_range_km=0)
    return enumerate_designs(d).best[0].value


def test_a_range_no_design_reaches_is_blamed_on_the_model_bound_that_stops_the_longest():
    """The longest design fills its body's battery space, an estimate in bodies.toml: the explanation
    calls it a model bound, and it is what stops the range (more space, more range)."""
    problem = _problem("us_kei_150km", min_range_km=900.0, price_cap_usd=25000.0)
    err = _explain(problem)
    assert "battery_volume_l" in err.details["longest_model_bounds"]
    assert "it stops at a model bound, not at physics" in err.explanation and "battery space" in err.explanation
    roomier = dataclasses.replace(CATALOG, bodies=tuple(dataclasses.replace(b, battery_volume_l=b.battery_volume_l * 1.5)
                                                        for b in CATALOG.bodies))
    assert _longest_km(problem, roomier) > err.details["longest_range_km"] * 1.05


def test_an_explicit_parallel_limit_is_named_as_the_catalogs_model_bound():
    """With pack.max_parallel set (here 16, for the 2170 cell alone) the longest design stops at it; the
    explanation names pack.max_parallel as a model bound, and lifting it lengthens the range."""
    only = dataclasses.replace(CATALOG, cells=(CATALOG.cell("panasonic_2170_us"),),
                               pack=dataclasses.replace(CATALOG.pack, max_parallel=16))
    problem = _problem("us_kei_150km", min_range_km=900.0, price_cap_usd=25000.0)
    err = _explain(problem, only)
    assert err.details["longest_model_bounds"] == ["max_parallel"]
    assert "pack-layout limit of 16 parallel strings (pack.max_parallel in pack.toml, a model bound" in err.explanation
    lifted = dataclasses.replace(only, pack=dataclasses.replace(only.pack, max_parallel=None))
    assert _longest_km(problem, lifted) > err.details["longest_range_km"] * 1.05
