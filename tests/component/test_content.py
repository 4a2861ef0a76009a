"""Content as BOM lines (configs/catalog/content.toml): required lines by regulatory profile, content
options as MILP decisions, their effects verified by simulation (real HiGHS, no mocks)."""
from __future__ import annotations

from dataclasses import replace

import pyomo.environ as pyo
import pytest

import kei
from kei.errors import ConfigError
from kei.optimizer.answers.design import to_vehicle
from kei.optimizer.inputs.catalog import load_catalog
from kei.optimizer.inputs.content import Content, ContentOption, content_from_dict
from kei.optimizer.inputs.problem import load_problem
from kei.optimizer.solving.solver import load_solver_settings

DROPPED = ("fmvss_208_advanced_airbags", "fmvss_214_side_airbags", "fmvss_226_ejection_mitigation")


def _floor_problem(required=None):
    """us_kei_15k as a floor question: the cheapest car reaching 120 km, cap out of the way."""
    p = load_problem("us_kei_15k")
    limits = p.limits if required is None else replace(p.limits, required_content=tuple(required))
    return replace(p, objective="min_price", min_range_km=120.0, price_cap_usd=60000.0, limits=limits)


def test_dropping_required_lines_lowers_the_price_by_their_landed_retail_contribution():
    full = kei.solve(_floor_problem())
    full_req = full.problem.limits.required_content
    fewer = kei.solve(_floor_problem([r for r in full_req if r not in DROPPED]))
    a, b = full.best, fewer.best
    assert (a.cell.id, a.series, a.parallel, a.motor.id, a.body.id, a.site) == \
        (b.cell.id, b.series, b.parallel, b.motor.id, b.body.id, b.site)
    content = load_catalog().content
    dropped_usd = sum(content.line(r).cost_usd for r in DROPPED if not content.line(r).in_glider)
    assert dropped_usd > 0
    site = full.problem.price.site(a.site)
    # Content pays the site's vehicle duty (not its glider cost index), then the RPE and the tax.
    expected = dropped_usd * (1 + site.vehicle_duty_rate) * full.problem.price.price_per_bom_usd
    assert a.price_usd - b.price_usd == pytest.approx(expected, rel=1e-6)
    dropped_kg = sum(content.line(r).mass_kg for r in DROPPED)
    assert a.mass_kg["required_content"] - b.mass_kg["required_content"] == pytest.approx(dropped_kg)


def test_a_line_in_force_from_a_later_model_year_is_pending_before_it():
    p = load_problem("us_kei_15k")
    early = kei.solve(replace(p, model_year=2027, price_cap_usd=22000.0)).best
    late = kei.solve(replace(p, model_year=2029, price_cap_usd=22000.0)).best
    aeb = load_catalog().content.line("fmvss_127_aeb")
    assert aeb.from_model_year == 2029
    assert "fmvss_127_aeb" in [r["id"] for r in early.content["pending"]]
    assert "fmvss_127_aeb" in [r["id"] for r in late.content["required"]]
    assert late.content["required_added_cost_usd"] - early.content["required_added_cost_usd"] == pytest.approx(aeb.cost_usd)


def _one_tyre_option(cost_usd: float) -> Content:
    base = load_catalog().content
    return replace(base, options=(
        ContentOption(id="catalogued", group="tyres", name="baseline", cost_usd=0.0, mass_kg=0.0),
        ContentOption(id="better_tyres", group="tyres", name="better", cost_usd=cost_usd, mass_kg=0.0, crr_scale=0.85)))


def _force(value: int):
    def extend(model, data):
        model.force_tyres = pyo.Constraint(expr=model.content_chosen["better_tyres"] == value)
    return extend


@pytest.mark.parametrize("cost_usd, chosen", [(0.0, True), (1500.0, False)], ids=["free", "dearer_than_its_range"])
def test_an_option_is_chosen_only_when_its_range_benefit_beats_its_cost(cost_usd, chosen):
    catalog = replace(load_catalog(), content=_one_tyre_option(cost_usd))
    problem = replace(load_problem("us_kei_15k"), price_cap_usd=22000.0)
    best = kei.solve(problem, catalog=catalog).best
    ids = [o["id"] for o in best.content["options"]]
    assert ("better_tyres" in ids) is chosen
    # The other choice, forced through extend= by the option's name, is never better.
    other = kei.solve(problem, catalog=catalog, extend=_force(0 if chosen else 1)).best
    assert other.range_km < best.range_km


def test_the_verification_of_a_design_with_options_simulates_their_effects():
    sol = kei.solve("eu_quadricycle")
    x = sol.best
    opts = {o["id"] for o in x.content["options"]}
    assert {"low_rolling_resistance", "aero_wheels_and_shutters"} <= opts   # both energy options at once
    content = load_catalog().content
    tyre = content.options[content.option_index("low_rolling_resistance")]
    aero = content.options[content.option_index("aero_wheels_and_shutters")]
    vehicle = to_vehicle(sol.data, x)
    assert vehicle.body.rolling_resistance_coefficient == pytest.approx(x.body.rolling_resistance_coefficient * tyre.crr_scale)
    assert vehicle.body.drag_coefficient == pytest.approx(x.body.drag_coefficient * aero.drag_area_scale)
    assert abs(x.drift) <= load_solver_settings().verify_tolerance


def test_the_cold_duty_draws_the_hvac_and_the_verification_agrees():
    p = replace(load_problem("us_kei_15k"), price_cap_usd=22000.0, climate="cold")
    x = kei.solve(p).best
    content = load_catalog().content
    hvac = [o for o in x.content["options"] if o["group"] == "hvac"][0]
    aux = content.options[content.option_index(hvac["id"])].cold_auxiliary_power_w
    assert x.content["auxiliary_power_w"] == pytest.approx(aux) and aux > 0
    assert abs(x.drift) <= load_solver_settings().verify_tolerance


def test_bad_content_config_names_the_file_and_the_key():
    with pytest.raises(ConfigError) as err:
        content_from_dict({"options": {"tyres": {"standard": {"name": "a", "cost_usd": 0.0, "mass_kg": 0.0},
                                                 "lrr": {"name": "b", "cost_usd": 40.0, "mass_kg": 0.0,
                                                         "crr_scale": 9.0}}}}, file="content.toml")
    assert "content.toml" in str(err.value) and "options.tyres.lrr.crr_scale" in str(err.value)
    with pytest.raises(ConfigError) as err:
        content_from_dict({"required": {"x": {"standard": "S", "cost_usd": 1.0, "mass_kg": 0.0, "colour": 1}}},
                          file="content.toml")
    assert "required.x.colour" in str(err.value)
    p = load_problem("us_kei_15k")
    bad = replace(p, limits=replace(p.limits, required_content=("no_such_line",)))
    with pytest.raises(ConfigError) as err:
        kei.solve(bad)
    assert "regulation.required_content" in str(err.value) and "no_such_line" in str(err.value)


@pytest.mark.parametrize("profile", ["us_lsv", "us_msv"])
def test_a_speed_capped_class_that_cannot_follow_the_cycle_says_so(profile):
    from kei.errors import InfeasibleError
    from kei.optimizer.inputs.regulations import load_limits

    p = load_problem("us_kei_15k")
    limits = load_limits(profile)
    assert limits.max_top_speed_kmh is not None and limits.required_content   # a speed class with its own content
    with pytest.raises(InfeasibleError) as err:
        kei.solve(replace(p, limits=limits))
    assert f"above the {profile} speed cap of {limits.max_top_speed_kmh:g} km/h" in err.value.explanation
