"""Vehicle files: required keys, defaults from the calibrated set, errors that name the key."""
import tomllib

import pytest

from kei.errors import ConfigError
from kei.vehicle.files import load_model_defaults, load_vehicle, vehicle_from_dict, vehicle_to_toml


def _raw(path):
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def test_sakura_loads_with_generic_defaults(sakura_path):
    v = load_vehicle(sakura_path)
    defaults = load_model_defaults()
    assert v.motor.peak_power_kw == 47.0
    # Optional keys the file does not set come from the one calibrated set.
    assert v.regen.share == defaults["regen"][f"{v.regen.braking}_fraction"]
    assert v.battery.usable_fraction == defaults["battery"]["usable_fraction"]
    assert v.road_load.aero_drag_factor == defaults["road_load"]["aero_drag_factor"]
    assert v.load.payload_kg is None  # each procedure's own test-mass rule applies


@pytest.mark.parametrize("section,key", [("body", "drag_coeficient"), ("battery", "energy_kw"), ("regen", "max_frac"),
                                         ("load", "max_payload"), ("road_load", "f0")])
def test_unknown_key_is_named(sakura_path, section, key):
    raw = _raw(sakura_path)
    raw.setdefault(section, {})[key] = 1.0
    with pytest.raises(ConfigError) as err:
        vehicle_from_dict(raw, file="car.toml")
    assert err.value.key == f"{section}.{key}"
    assert "car.toml" in str(err.value) and "unknown key" in str(err.value)


def test_missing_required_key_and_section(sakura_path):
    raw = _raw(sakura_path)
    del raw["body"]["frontal_area_m2"]
    with pytest.raises(ConfigError, match="body.frontal_area_m2"):
        vehicle_from_dict(raw, file="car.toml")
    raw = _raw(sakura_path)
    del raw["motor"]
    with pytest.raises(ConfigError, match="motor"):
        vehicle_from_dict(raw, file="car.toml")


@pytest.mark.parametrize("value", ["heavy", True, -5.0, float("nan")])
def test_bad_values_are_rejected(sakura_path, value):
    raw = _raw(sakura_path)
    raw["body"]["curb_mass_kg"] = value
    with pytest.raises(ConfigError, match="body.curb_mass_kg"):
        vehicle_from_dict(raw, file="car.toml")


def test_pack_must_match_series_parallel_cell(sakura_path):
    raw = _raw(sakura_path)
    raw["battery"].update(series=96, parallel=2)
    raw["battery"]["cell"] = dict(id="c", chemistry="nmc", capacity_ah=28.0, nominal_voltage_v=3.65,
                                  min_voltage_v=3.0, max_voltage_v=4.2, internal_resistance_mohm=1.5,
                                  max_discharge_c=3.0)
    raw["battery"].update(energy_kwh=96 * 2 * 28.0 * 3.65 / 1000, nominal_voltage_v=96 * 3.65)
    v = vehicle_from_dict(raw, file="car.toml")
    assert v.battery.resistance_ohm == pytest.approx(1.5e-3 * 96 / 2)
    raw["battery"]["energy_kwh"] = 25.0
    with pytest.raises(ConfigError, match="battery.energy_kwh"):
        vehicle_from_dict(raw, file="car.toml")


def test_peak_discharge_rate_defaults_to_the_continuous_one(sakura_path):
    raw = _raw(sakura_path)
    cell = dict(id="c", chemistry="nmc", capacity_ah=28.0, nominal_voltage_v=3.65, min_voltage_v=3.0,
                max_voltage_v=4.2, internal_resistance_mohm=1.5, max_discharge_c=2.0)
    raw["battery"].update(series=96, parallel=2, cell=cell, energy_kwh=96 * 2 * 28.0 * 3.65 / 1000,
                          nominal_voltage_v=96 * 3.65)
    v = vehicle_from_dict(raw, file="car.toml")
    assert v.battery.cell.peak_discharge_c == 2.0
    assert v.battery.peak_discharge_current_a == v.battery.max_discharge_current_a == pytest.approx(112.0)
    cell["peak_discharge_c"] = 3.5
    v = vehicle_from_dict(raw, file="car.toml")
    assert v.battery.peak_discharge_current_a == pytest.approx(196.0) and v.battery.max_discharge_current_a == 112.0
    assert vehicle_from_dict(tomllib.loads(vehicle_to_toml(v)), file="rt.toml") == v   # written explicitly
    cell["peak_discharge_c"] = 1.5
    with pytest.raises(ConfigError, match="battery.cell.peak_discharge_c.*below the continuous"):
        vehicle_from_dict(raw, file="car.toml")


def test_round_trip_through_toml(sakura_path):
    v = load_vehicle(sakura_path)
    again = vehicle_from_dict(tomllib.loads(vehicle_to_toml(v, header="test")), file="rt.toml")
    assert again == v


def test_malformed_toml_names_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[body\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_vehicle(bad)


def test_docs_list_every_key():
    from pathlib import Path

    from kei.vehicle.files import CELL_FIELDS, SECTIONS, TOP_FIELDS

    text = (Path(__file__).resolve().parents[2] / "docs" / "vehicle_files.md").read_text()
    for fields in (TOP_FIELDS, CELL_FIELDS, *SECTIONS.values()):
        for f in fields:
            assert f"`{f.name}`" in text, f"docs/vehicle_files.md lacks {f.name}"


def test_motor_map_must_let_input_power_rise_with_output(sakura_path):
    raw = _raw(sakura_path)
    # 10 % efficiency at 2 % load jumping to 90 % at 4 %: more output would need less input.
    raw["motor"].update(efficiency_power_fractions=[0.0, 0.02, 0.04, 1.0], efficiency_values=[0.1, 0.1, 0.9, 0.9])
    with pytest.raises(ConfigError, match="motor.efficiency_values.*too steeply"):
        vehicle_from_dict(raw, file="car.toml")
    raw["motor"]["efficiency_values"] = [0.80, 0.85, 0.90, 0.92]
    assert vehicle_from_dict(raw, file="car.toml").motor.efficiency_values == (0.80, 0.85, 0.90, 0.92)
