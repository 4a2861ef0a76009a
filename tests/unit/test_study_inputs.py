"""The uncertain inputs (configs/studies/uncertain_inputs.toml): sources, nominals that are the
configured values, ends the loaders accept, and draws that depend on (seed, sample) alone."""
import numpy as np
import pytest

from kei.errors import ConfigError
from kei.optimizer.solving.pipeline import load_catalog_for
from kei.optimizer.studies.sources import PointInputs, record_inputs
from kei.optimizer.studies.uncertain import inputs_from_dicts, load_uncertain_inputs, sample_values
from kei.vehicle.files import load_model_defaults

INPUTS = load_uncertain_inputs()


def test_both_sides_are_covered_with_sources_and_dates():
    sides = {x.side for x in INPUTS}
    assert sides == {"cost", "energy"}
    names = {x.name for x in INPUTS}
    for needed in ("glider cost", "cell cost", "retail price equivalent", "drag coefficient", "rolling resistance",
                   "glider mass", "usable battery share", "auxiliary load"):
        assert needed in names
    for x in INPUTS:
        assert len(x.source) > 30 and len(x.date) == 7 and x.low < x.high


def _configured(view, problem, key):
    """The value a `value` input's key has in the loaded configs."""
    parts = key.split(".")
    if parts[0] == "defaults":
        return load_model_defaults()[parts[1]][parts[2]]
    if parts[0] == "price":
        if parts[1].endswith("_by_origin"):
            return problem.price.tariff_rate(parts[2])
        if parts[1] == "sites":
            return getattr(problem.price.site(parts[2]), parts[3])
        return getattr(problem.price, parts[1])
    if parts[0] == "catalog":
        catalog = load_catalog_for(problem)
        return getattr({"cells": catalog.cell, "motors": catalog.motor, "bodies": catalog.body}[parts[1]](parts[2]),
                       parts[3])
    raise AssertionError(key)


@pytest.mark.parametrize("x", INPUTS, ids=lambda x: x.name)
def test_each_input_validates_at_both_ends_and_a_value_nominal_is_the_config(x):
    view = PointInputs(record_inputs("us_kei_15k"))
    if x.apply == "value":
        with view.serve(()) as (problem, _):
            assert _configured(view, problem, x.key) == pytest.approx(x.nominal), \
                f"{x.name}: the configured value moved; update the nominal (and the range) in uncertain_inputs.toml"
    else:
        assert x.nominal == 1.0
    for end in (x.low, x.high):
        with view.serve((x.override(end),)) as (problem, changed):
            load_catalog_for(problem)
            load_model_defaults()
            assert changed, f"{x.name} at {end} changed nothing"


def test_draws_depend_on_seed_and_sample_only():
    a = [sample_values(INPUTS, 7, i) for i in range(200)]
    assert a[13] == sample_values(INPUTS, 7, 13)                # any order, any executor
    assert a[13] != sample_values(INPUTS, 8, 13)
    values = np.array(a)
    bounded = np.array([x.distribution != "normal90" for x in INPUTS])
    lows, highs = np.array([x.low for x in INPUTS]), np.array([x.high for x in INPUTS])
    assert (values[:, bounded] >= lows[bounded] - 1e-12).all() and (values[:, bounded] <= highs[bounded] + 1e-12).all()


def test_energy_inputs_use_the_energy_models_own_ranges():
    """The tornado's ends and the Monte Carlo draws of the energy side are the 90 % interval and the
    normal distribution of configs/uncertainty.toml, the inputs of every range's band."""
    from kei.vehicle.uncertainty import load_uncertainty

    band = load_uncertainty().inputs
    linked = [x for x in INPUTS if x.energy_model_input]
    assert {x.energy_model_input for x in linked} >= {"drag_coefficient", "rolling_resistance_coefficient", "mass",
                                                      "usable_fraction", "aux_power_w"}
    for x in linked:
        spec = band[x.energy_model_input]
        assert x.high - x.nominal == pytest.approx(spec.half_width_90) == pytest.approx(x.nominal - x.low)
        draws = np.array([x.draw(q) for q in np.linspace(0.0005, 0.9995, 2000)])
        assert np.percentile(draws, 5) == pytest.approx(x.low, rel=1e-2)
        assert np.percentile(draws, 95) == pytest.approx(x.high, rel=1e-2)


def test_an_energy_input_may_not_restate_its_range():
    with pytest.raises(ConfigError, match="input\\[0\\].low"):
        inputs_from_dicts([{"name": "cd", "key": "catalog.bodies.*.drag_coefficient", "apply": "scale",
                            "energy_model_input": "drag_coefficient", "low": 0.5, "side": "energy", "date": "2025-12"}])
    with pytest.raises(ConfigError, match="not an input of configs/uncertainty.toml"):
        inputs_from_dicts([{"name": "cd", "key": "catalog.bodies.*.drag_coefficient", "apply": "scale",
                            "energy_model_input": "drag", "side": "energy", "date": "2025-12"}])


def test_triangular_draws_peak_at_the_nominal():
    (x,) = inputs_from_dicts([{"name": "t", "key": "price.retail_price_equivalent", "apply": "scale", "low": 0.0,
                               "nominal": 0.2, "high": 1.0, "distribution": "triangular", "side": "cost",
                               "basis": "estimate", "source": "test", "date": "2025-12"}])
    u = np.linspace(0.0005, 0.9995, 1000)
    draws = np.array([x.draw(q) for q in u])
    assert np.all(np.diff(draws) > 0)                            # an inverse CDF rises
    assert np.mean(draws) == pytest.approx((0.0 + 0.2 + 1.0) / 3, abs=2e-3)
    assert x.draw(0.2) == pytest.approx(0.2)                     # CDF(mode) = (c - a) / (b - a)


def test_a_bad_entry_names_the_file_and_key():
    bad = {"name": "t", "key": "catalog.bodies.*.cost_usd", "apply": "scale", "low": 1.2, "nominal": 1.0, "high": 1.5,
           "distribution": "triangular", "side": "cost", "basis": "estimate", "source": "s", "date": "2025-12"}
    with pytest.raises(ConfigError, match=r"input\[0\]\.nominal"):
        inputs_from_dicts([bad], file="u.toml")
    with pytest.raises(ConfigError, match=r"input\[0\]\.key"):
        inputs_from_dicts([{**bad, "low": 0.9, "key": "glider.cost"}], file="u.toml")
