"""The price calibration: the fit on configs/price_calibration.toml reproduces the RPE, the site cost
indices and the residual band the price models carry, and its BOM holds the content the model adds."""
import pytest

from kei.optimizer.inputs.price_model import load_price_model
from kei.optimizer.prepare.price_calibration import fit_price, load_cars


@pytest.fixture(scope="module")
def cal():
    return fit_price()


@pytest.mark.parametrize("model", ["us_2025", "jp_2025", "eu_2025"])
def test_the_fit_reproduces_the_price_models(cal, model):
    pm = load_price_model(model)
    assert pm.retail_price_equivalent == pytest.approx(cal.retail_price_equivalent, abs=5e-4)
    for site in pm.sites:
        if site.name in cal.cost_index:
            assert site.cost_index == pytest.approx(cal.cost_index[site.name], abs=5e-4), site.name
    low, high = cal.band
    assert pm.calibration_residual_low == pytest.approx(low, abs=5e-4)
    assert pm.calibration_residual_high == pytest.approx(high, abs=5e-4)


def test_at_least_four_cars_and_pre_tax_on_both_sides(cal):
    assert len(cal.cars) >= 4 and len({c.site for c in cal.cars}) >= 3
    cars, fit, _ = load_cars()
    pm = load_price_model(fit["fixed_content_price_model"])
    for car in cars:
        # the BOM carries the price model's fixed content (the issue: RPE fitted without it)
        assert car.other_usd >= pm.fixed_content_cost_usd
    # A residual is the car's own error: the model price times (1 + residual) is the real pre-tax price.
    for car, r in zip(cal.cars, cal.residuals):
        assert cal.model_price_usd(car) * (1 + r) == pytest.approx(car.pre_tax_price_usd)


def test_the_fit_moves_with_its_data(tmp_path, cal):
    """A car priced 10 % higher raises the fitted RPE (the fit is not a constant)."""
    from kei.resources import config_file
    text = config_file("price_calibration.toml").read_text()
    bumped = text.replace("price_usd =   26500.0", "price_usd =   29150.0")
    assert bumped != text
    path = tmp_path / "cal.toml"
    path.write_text(bumped)
    assert fit_price(path).retail_price_equivalent > cal.retail_price_equivalent


@pytest.mark.parametrize("edit, field", [
    (("usd_per_jpy =   0.006667         # estimate: 150 JPY/USD (2024-2025 average ~150)\n", ""), "car[0].usd_per_jpy"),
    (("price_jpy =   2333100.0", "price_jpy = 2333100.0\nprice_usd = 15000.0\n#"), "car[0]"),
    (("price_jpy =   2333100.0", "#"), "car[0]"),
])
def test_a_price_needs_exactly_one_currency_and_its_rate(tmp_path, edit, field):
    from kei.errors import ConfigError
    from kei.resources import config_file
    text = config_file("price_calibration.toml").read_text()
    broken = text.replace(*edit, 1)
    assert broken != text
    path = tmp_path / "cal.toml"
    path.write_text(broken)
    with pytest.raises(ConfigError) as err:
        load_cars(path)
    assert err.value.key == field and str(path) in str(err.value)
