"""Problem files: the bundled ones load; a bad one names the file and the dotted key."""
from pathlib import Path

import pytest

from kei.errors import ConfigError
from kei.optimizer.inputs.problem import load_problem, problem_from_dict
from kei.schema import read_toml

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = sorted((ROOT / "configs" / "problems").glob("*.toml"))


def _raw(name="us_kei_15k"):
    return read_toml(ROOT / "configs" / "problems" / f"{name}.toml")


def _load(raw, file="bad.toml"):
    return problem_from_dict(raw, file=file, base_dir=ROOT / "configs" / "problems")


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_bundled_problems_load(path):
    p = load_problem(path)
    assert p.name == path.stem
    assert p.price.price_per_bom_usd >= 1.0
    assert p.catalog_dir is None  # the configured catalog (kei.resources: --configs, then the bundle)


def test_us_kei_15k_says_what_the_issue_asks():
    p = load_problem(ROOT / "configs" / "problems" / "us_kei_15k.toml")
    assert (p.objective, p.cycle, p.price_cap_usd) == ("max_range", "epa_combined", 15000.0)
    assert p.limits.max_width_m == 1.48 and p.limits.max_length_m == 3.40 and p.limits.us_crash_structure_required
    assert p.performance.min_top_speed_kmh >= 110  # keeps up on US highways
    assert p.price.tariff_rate("CN", cell=True) > p.price.tariff_rate("CN") > p.price.tariff_rate("US") == 0.0


@pytest.mark.parametrize("mutate,key", [
    (lambda r: r.update(price_cap=1.0), "price_cap"),
    (lambda r: r["performance"].update(max_accel_0_100=10.0), "performance.max_accel_0_100"),
    (lambda r: r["regulation"].update(max_widht_m=1.5), "regulation.max_widht_m"),
    (lambda r: r["price"].update(retail_markup=1.2), "price.retail_markup"),
    (lambda r: r.update(objective="max_fun"), "objective"),
    (lambda r: r.update(price_cap_usd="cheap"), "price_cap_usd"),
    (lambda r: r["performance"].update(grade_percent=5.0, grade_speed_kmh=None) or r["performance"].pop("grade_speed_kmh"),
     "performance.grade_speed_kmh"),
    (lambda r: r["regulation"].update(profile="jp_kay"), "regulation.profile"),
    (lambda r: r["price"].update(model="mars_2025"), "price.model"),
    (lambda r: r.update(cycle="wltc_99"), "cycle"),
    (lambda r: r.update(objective="min_price"), "min_range_km"),
    (lambda r: r["price"].update(tariff_rate_by_origin={"CN": -0.5}), "price.tariff_rate_by_origin.CN"),
])
def test_bad_problem_file_names_file_and_key(mutate, key):
    raw = _raw()
    mutate(raw)
    with pytest.raises(ConfigError) as err:
        _load(raw)
    assert err.value.key == key
    assert str(err.value).startswith("bad.toml: ")


def test_overrides_replace_profile_limits_and_merge_tariffs():
    raw = _raw()
    raw["regulation"]["max_width_m"] = 1.6
    raw["price"]["tariff_rate_by_origin"] = {"CN": 0.1}
    p = _load(raw)
    assert p.limits.max_width_m == 1.6 and p.limits.max_length_m == 3.40
    assert p.price.tariff_rate("CN") == 0.1 and p.price.tariff_rate("JP") == 0.15


def test_unknown_origin_names_the_part_and_the_price_model():
    p = _load(_raw())
    with pytest.raises(ConfigError, match="origin 'XX' .*part cell7"):
        p.price.tariff_rate("XX", part="cell7")
