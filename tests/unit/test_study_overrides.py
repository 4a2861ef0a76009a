"""Overrides by dotted key (optimizer/studies/overrides.py): parsing, applying to parsed tables, and
every variant validated by the ordinary loaders with the key and the override named."""
import copy

import pytest

from kei.errors import ConfigError, UsageError
from kei.optimizer.inputs.catalog import load_catalog
from kei.optimizer.solving.pipeline import load_catalog_for
from kei.optimizer.studies.overrides import SCALE, SET, Override, apply_path, parse_override
from kei.optimizer.studies.sources import PointInputs, record_inputs
from kei.vehicle.files import load_model_defaults


@pytest.fixture(scope="module")
def inputs():
    return record_inputs("us_kei_15k")


def test_parse_set_scale_and_values():
    assert parse_override("price.tariff_rate_by_origin.MX=0.25") == Override("price.tariff_rate_by_origin.MX", SET, 0.25)
    assert parse_override("catalog.bodies.*.cost_usd*=0.9") == Override("catalog.bodies.*.cost_usd", SCALE, 0.9)
    assert parse_override("problem.performance.follow_cycle=false").value is False
    assert parse_override("price.pack_integration_origin=MX").value == "MX"      # a bare word is a string
    assert parse_override('price.pack_integration_origin="MX"').value == "MX"


@pytest.mark.parametrize("text,needle", [
    ("prices.retail_price_equivalent=1.2", "starts with its source"),
    ("catalog.cell.x.cost_usd_per_kwh=1", "names its file"),
    ("catalog.bodies.*.cost_usd*=cheap", "must be a number"),
    ("problem.price_cap_usd", "expected KEY=VALUE"),
])
def test_bad_override_text_names_the_problem(text, needle):
    with pytest.raises(UsageError, match=needle):
        parse_override(text)


def test_apply_copies_only_what_changes():
    table = {"a": {"x": 1.0, "y": 2.0}, "b": {"x": 3.0}, "list": [{"c": 1.0}, {"c": 2.0}]}
    before = copy.deepcopy(table)
    new, n = apply_path(table, ["*", "x"], Override("k", SCALE, 2.0), "f.toml")
    assert n == 2 and new["a"]["x"] == 2.0 and new["b"]["x"] == 6.0 and new["a"]["y"] == 2.0
    assert table == before and new["list"] is table["list"]                      # the original is untouched, shared
    new, n = apply_path(table, ["list", "*", "c"], Override("k", SET, 5.0), "f.toml")
    assert n == 2 and [t["c"] for t in new["list"]] == [5.0, 5.0]
    with pytest.raises(UsageError, match="has no 'z'"):
        apply_path(table, ["z", "x"], Override("k", SET, 1.0), "f.toml")


def test_scale_on_a_part_without_the_key_skips_it_but_a_named_part_must_have_it():
    table = {"m1": {"gear_ratio": 9.0}, "m2": {}}
    new, n = apply_path(table, ["*", "gear_ratio"], Override("k", SCALE, 1.1), "motors.toml")
    assert n == 1 and new["m1"]["gear_ratio"] == pytest.approx(9.9) and new["m2"] == {}
    with pytest.raises(UsageError, match="has no 'm2.gear_ratio'"):
        apply_path(table, ["m2", "gear_ratio"], Override("k", SCALE, 1.1), "motors.toml")


def test_points_see_their_overrides_through_the_ordinary_loaders(inputs):
    view = PointInputs(inputs)
    base_cost = load_catalog().body("kei_us_crash_mx").cost_usd
    with view.serve((parse_override("catalog.bodies.*.cost_usd*=0.5"), parse_override("defaults.auxiliary.power_w=450"),
                     parse_override("price.tariff_rate_by_origin.MX=0.25"),
                     parse_override("problem.price_cap_usd=19000"))) as (problem, changed):
        catalog = load_catalog_for(problem)
        assert catalog.body("kei_us_crash_mx").cost_usd == pytest.approx(base_cost * 0.5)
        assert load_model_defaults()["auxiliary"]["power_w"] == 450.0
        assert problem.price.tariff_rate("MX") == 0.25 and problem.price_cap_usd == 19000.0
        assert len(changed) == 4
    with view.serve(()) as (problem, changed):     # the next point starts from the parsed files again
        assert load_catalog_for(problem).body("kei_us_crash_mx").cost_usd == base_cost
        assert problem.price.tariff_rate("MX") == 0.0 and changed == {}


def test_a_key_the_problem_file_also_sets_changes_the_value_in_force(tmp_path):
    problem = tmp_path / "p.toml"
    text = open(record_inputs("us_kei_15k").problem).read()
    problem.write_text(text.replace('model = "us_2025"', 'model = "us_2025"\nretail_price_equivalent = 1.3'))
    view = PointInputs(record_inputs(problem))
    with view.serve((parse_override("price.retail_price_equivalent*=1.1"),)) as (p, _):
        assert p.price.retail_price_equivalent == pytest.approx(1.43)        # the problem's 1.3, not the model's 1.15


def test_a_bad_value_is_reported_by_its_loader_with_file_key_and_override(inputs):
    view = PointInputs(inputs)
    with pytest.raises(ConfigError) as err:
        with view.serve((parse_override("catalog.cells.panasonic_2170_us.capacity_ah=-3"),)) as (problem, _):
            load_catalog_for(problem)
    assert err.value.file.endswith("cells.toml") and err.value.key == "cell[panasonic_2170_us].capacity_ah"
    assert "catalog.cells.panasonic_2170_us.capacity_ah=-3" in str(err.value)
    with pytest.raises(ConfigError, match="unknown key"):   # a new key is checked by the loader's schema
        with view.serve((parse_override("price.retail_markup=1.2"),)):
            pass
    with pytest.raises(UsageError, match="no 'nope'"):
        with view.serve((parse_override("catalog.cells.nope.cost_usd_per_kwh=80"),)):
            pass


def test_loaders_do_not_modify_the_tables_they_are_served(inputs):
    """Points share the parsed tables: a loader that changed what it reads would leak into the next point."""
    before = copy.deepcopy(inputs.tables)
    import kei

    view = PointInputs(inputs)
    with view.serve((parse_override("problem.price_cap_usd=21000"),)) as (problem, _):
        kei.solve(problem)
    assert inputs.tables == before
