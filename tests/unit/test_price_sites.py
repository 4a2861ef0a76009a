"""Price models' assembly sites: loading, a problem's overrides, bad input named by file and key."""
import pytest

from kei.errors import ConfigError
from kei.optimizer.inputs.price_model import load_price_model


@pytest.mark.parametrize("model", ["us_2025", "jp_2025", "eu_2025"])
def test_every_bundled_price_model_has_a_home_site_without_vehicle_duty(model):
    pm = load_price_model(model)
    home = [s for s in pm.sites if s.country == pm.market]
    assert home and all(s.vehicle_duty_rate == 0.0 for s in home)
    assert all(s.vehicle_duty_rule for s in pm.sites)


def test_us_2025_carries_the_2025_rules():
    pm = load_price_model("us_2025")
    mx, jp, cn = pm.site("MX"), pm.site("JP"), pm.site("CN")
    assert mx.vehicle_duty_rate == 0.25 and mx.duty_exempt_origins == ("US",) and mx.regional_value_content_min == 0.75
    assert jp.vehicle_duty_rate == 0.15 and pm.site("KR").vehicle_duty_rate == 0.15 and pm.site("EU").vehicle_duty_rate == 0.15
    assert cn.vehicle_duty_rate > 1.0                       # Section 301 100 % on Chinese EVs and more
    assert (pm.cell_credit_usd_per_kwh, pm.module_credit_usd_per_kwh) == (35.0, 10.0) and not pm.apply_manufacturing_credit


def test_a_problem_overrides_a_site_key_and_restricts_the_sites():
    pm = load_price_model("us_2025", {"sites": {"MX": {"assembly_cost_usd": 1234.0}}, "allowed_sites": ["US", "MX"]})
    assert pm.site("MX").assembly_cost_usd == 1234.0 and pm.site("MX").cost_index == 0.70   # the rest kept
    assert [s.name for s in pm.open_sites] == ["US", "MX"]


@pytest.mark.parametrize("overrides, key", [
    ({"sites": {"XX": {"cost_index": 1.0}}}, "price.sites.XX"),
    ({"sites": {"MX": {"cost_indx": 1.0}}}, "price.sites.MX.cost_indx"),
    ({"sites": {"MX": {"vehicle_duty_rate": -0.1}}}, "price.sites.MX.vehicle_duty_rate"),
    ({"allowed_sites": ["ZZ"]}, "price.allowed_sites"),
])
def test_bad_site_input_names_the_file_and_key(overrides, key):
    with pytest.raises(ConfigError) as err:
        load_price_model("us_2025", overrides, file="p.toml")
    assert err.value.file == "p.toml" and err.value.key == key
