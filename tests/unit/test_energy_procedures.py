"""Procedures and driving what the car can: capped traces, test masses, class selection, coastdown
coefficients, validity, the uncertainty band and a user CSV's plausibility."""
import json
from dataclasses import replace

import numpy as np
import pytest
from conftest import run_kei

from kei.errors import CycleError
from kei.vehicle import procedures
from kei.vehicle.cycles import load_cycle, load_trace, read_cycle_csv
from kei.vehicle.energy import params_from_vehicle, simulate
from kei.vehicle.files import coastdown_from_epa, epa_from_coastdown, load_vehicle, vehicle_from_dict
from kei.vehicle.uncertainty import band_for, load_uncertainty


@pytest.fixture(scope="module")
def sakura():
    return load_vehicle("nissan_sakura")


def car(**changes):
    raw = {"name": "probe", "body": {"curb_mass_kg": 1000.0, "drag_coefficient": 0.33, "frontal_area_m2": 2.0,
                                     "rolling_resistance_coefficient": 0.009, "length_m": 3.4, "width_m": 1.48,
                                     "height_m": 1.6},
           "battery": {"energy_kwh": 20.0, "nominal_voltage_v": 350.0, "chemistry": "nmc"},
           "motor": {"peak_power_kw": 47.0}}
    for key, value in changes.items():
        if isinstance(value, dict):
            raw.setdefault(key, {}).update(value)
        else:
            raw[key] = value
    return vehicle_from_dict(raw, file="probe.toml")


# ---- drive what the car can drive ----------------------------------------------------------------
@pytest.mark.parametrize("cycle_name", ["nedc_trace", "wltc_3b", "hwfet"])
def test_governed_car_gets_the_capped_trace_distance_and_no_free_range(cycle_name):
    trace = load_cycle(cycle_name)
    cap_kmh = 0.8 * trace.max_speed_kmh          # governed well below the trace's peak
    slow = car(top_speed_kmh=cap_kmh)
    result = simulate(slow, trace)
    capped_m = np.sum(0.5 * (np.minimum(trace.speed_mps[1:], cap_kmh / 3.6) + np.minimum(trace.speed_mps[:-1], cap_kmh / 3.6))
                      * np.diff(trace.time_s))
    # It drives at most the capped trace (where the cap truncates an acceleration it also lags a bit)...
    assert result.distance_km <= capped_m / 1000 + 1e-9
    assert result.distance_km > 0.97 * capped_m / 1000
    assert result.speed_mps.max() <= cap_kmh / 3.6 + 1e-9
    # ...and the range never exceeds what the energy it drew allows.
    assert result.range_km <= slow.battery.usable_energy_wh / result.energy_wh_per_km * (1 + 1e-9) + result.distance_km
    assert result.shortfall_wh == pytest.approx(0.0, abs=1e-6)
    assert result.trace_miss_s > 0


def test_a_motor_too_small_to_drive_gets_the_range_its_energy_allows_and_is_not_a_valid_test():
    weak = car(motor={"peak_power_kw": 0.5})
    result = simulate(weak, load_cycle("nedc"))
    assert not result.valid_test and "not a valid nedc test" in result.validity_reason
    assert result.distance_km < 0.5 * load_cycle("nedc").distance_km
    # What it drew for the distance it drove, nothing more (the old model credited the whole trace: 1,376 km).
    assert result.range_km == pytest.approx(weak.battery.usable_energy_wh / result.energy_wh_per_km, rel=0.02)


def test_forward_steps_follow_the_power_limit(sakura):
    """Where the car falls behind, every step uses exactly its traction limit (no more, no less)."""
    weak = replace(sakura, motor=replace(sakura.motor, peak_power_kw=15.0, peak_torque_nm=None))
    result = simulate(weak, load_cycle("us06"))
    behind = result.miss & (result.wheel_power_w > 0)
    assert behind.sum() > 30
    limit_w = 15000.0 * weak.driveline.efficiency
    assert result.wheel_power_w[behind].max() <= limit_w * (1 + 1e-6)
    assert np.median(result.wheel_power_w[behind]) == pytest.approx(limit_w, rel=1e-6)


def test_strict_exits_6_for_an_invalid_test(tmp_path):
    f = tmp_path / "weak.toml"
    f.write_text('name = "weak"\n[body]\ncurb_mass_kg = 1000.0\ndrag_coefficient = 0.33\nfrontal_area_m2 = 2.0\n'
                 'rolling_resistance_coefficient = 0.009\nlength_m = 3.4\nwidth_m = 1.48\nheight_m = 1.6\n'
                 '[battery]\nenergy_kwh = 20.0\nnominal_voltage_v = 350.0\nchemistry = "nmc"\n[motor]\npeak_power_kw = 8.0\n')
    out = run_kei("simulate", f, "--cycle", "epa_highway", "--strict", "--json")
    assert out.returncode == 6, out.stderr
    data = json.loads(out.stdout)
    assert data["valid_test"] is False and "behind the trace" in data["validity_reason"]
    assert run_kei("simulate", f, "--cycle", "epa_highway").returncode == 0  # not strict: reported, exit 0
    ok = run_kei("simulate", "nissan_sakura", "--cycle", "wltc_jp", "--strict", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["valid_test"] is True


# ---- test mass ---------------------------------------------------------------------------------------
def test_test_mass_of_each_procedure_for_a_passenger_car_and_a_freight_van():
    passenger = car(load={"seats": 4})
    van = car(load={"category": "freight", "seats": 2, "max_payload_kg": 350.0})
    # EPA: curb + 300 lb = 2,504.6 lb -> ETW class 2,500 lb (125 lb steps).
    assert procedures.test_mass_kg(passenger, "epa_combined")[0] == pytest.approx(2500 * 0.45359237)
    # WLTP: curb + 100 + 15 % of (max laden - curb - 100); max laden = curb + 4 x 75 kg.
    assert procedures.test_mass_kg(passenger, "wltp")[0] == pytest.approx(1100 + 0.15 * 200)
    # Japan: 55 kg per seat; freight carries 28 % of the remaining load capacity.
    assert procedures.test_mass_kg(passenger, "wltc_jp")[0] == pytest.approx(1100 + 0.15 * 120)
    assert procedures.test_mass_kg(van, "wltc_jp")[0] == pytest.approx(1100 + 0.28 * (2 * 55 + 350 - 100))
    assert procedures.test_mass_kg(van, "wltp")[0] == pytest.approx(1100 + 0.28 * (2 * 75 + 350 - 100))
    # NEDC: reference mass 1,100 kg -> inertia class 1,130 kg.
    assert procedures.test_mass_kg(passenger, "nedc")[0] == 1130.0
    assert procedures.test_mass_kg(passenger, "")[0] == 1100.0
    # A file's payload overrides every rule.
    fixed = car(load={"payload_kg": 136.0})
    assert {procedures.test_mass_kg(fixed, p)[0] for p in ("epa_city", "wltp", "wltc_jp", "nedc", "")} == {1136.0}
    # And simulate runs at it.
    assert simulate(van, load_cycle("wltc_jp")).test_mass_kg == pytest.approx(1100 + 0.28 * 360)


@pytest.mark.parametrize("curb_kg,etw_lb", [(1616.0, 3875.0), (2000.0, 4750.0), (400.0, 1125.0), (3000.0, 5500.0)])
def test_epa_equivalent_test_weight_classes(curb_kg, etw_lb):
    assert procedures.epa_test_weight_kg(curb_kg) == pytest.approx(etw_lb * 0.45359237)


# ---- class selection -----------------------------------------------------------------------------------
@pytest.mark.parametrize("pmr,vmax,wltp,jp", [
    (22.0, 150.0, "wltc_1", "wltc_3b"), (22.01, 150.0, "wltc_2", "wltc_3b"), (34.0, 150.0, "wltc_2", "wltc_3b"),
    (34.01, 150.0, "wltc_3b", "wltc_3b"), (50.0, 119.9, "wltc_3a", "wltc_3a"), (50.0, 120.0, "wltc_3b", "wltc_3b"),
    (15.0, 100.0, "wltc_1", "wltc_3a"),   # a low-PMR kei van: Japan drives class 3a
])
def test_class_selection_on_pmr_and_top_speed_edges(pmr, vmax, wltp, jp):
    assert procedures.wltc_class(pmr, vmax, "wltp") == wltp
    assert procedures.wltc_class(pmr, vmax, "wltc_jp") == jp


def test_procedure_picks_the_class_from_the_car():
    quadricycle = car(motor={"peak_power_kw": 15.0}, top_speed_kmh=90.0)          # 15 W/kg
    city = car(motor={"peak_power_kw": 30.0}, top_speed_kmh=110.0)                 # 30 W/kg
    assert simulate(quadricycle, load_cycle("wltp")).trace_rule.startswith("wltc_1")
    assert simulate(city, load_cycle("wltp")).trace_rule.startswith("wltc_2")
    fast = simulate(car(top_speed_kmh=150.0), load_cycle("wltp"))
    assert fast.trace_rule.startswith("wltc_3b") and "capped" not in fast.trace_rule


def test_capped_speed_trace_keeps_each_phase_distance():
    base = load_trace("wltc_3b")
    capped = procedures.capped_speed_trace(base, 110.0, procedures.WLTC_PHASE_ENDS_S["wltc_3b"], "x")
    assert capped.max_speed_kmh == pytest.approx(110.0)
    assert capped.distance_km == pytest.approx(base.distance_km, abs=0.03 * 4)  # each phase within half a second at the cap
    assert capped.duration_s > base.duration_s
    # A car governed at 110 km/h drives the capped trace: a valid WLTP test at the full distance.
    r = simulate(car(top_speed_kmh=110.0, motor={"peak_power_kw": 60.0}), load_cycle("wltp"))
    assert r.valid_test and "capped at 110.0" in r.trace_rule
    assert r.distance_km == pytest.approx(base.distance_km, rel=0.01)


# ---- coastdown coefficients ---------------------------------------------------------------------------
def test_epa_abc_round_trip_and_units():
    a, b, c = 29.6, 0.135, 0.0189
    f0, f1, f2 = coastdown_from_epa(a, b, c)
    assert f0 == pytest.approx(131.67, rel=1e-4)
    # At 50 mi/h both forms give the same force.
    v_mph = 50.0
    assert f0 + f1 * v_mph * 0.44704 + f2 * (v_mph * 0.44704) ** 2 == pytest.approx(
        (a + b * v_mph + c * v_mph**2) * 4.4482216152605, rel=1e-12)
    assert epa_from_coastdown(f0, f1, f2) == pytest.approx((a, b, c), rel=1e-12)


def test_coastdown_coefficients_replace_the_body_road_load():
    f0, f1, f2 = coastdown_from_epa(25.0, 0.2, 0.018)
    measured = car(road_load={"f0_n": f0, "f1_n_per_mps": f1, "f2_n_per_mps2": f2})
    p = params_from_vehicle(measured)
    v = 20.0
    assert procedures.steady_wheel_power_w(p, v) == pytest.approx((f0 + f1 * v + f2 * v * v) * v, rel=1e-12)


# ---- the band -----------------------------------------------------------------------------------------
def test_band_brackets_the_figure_and_widens_with_an_input_uncertainty(sakura):
    result = simulate(sakura, load_cycle("wltc_jp"))
    u = load_uncertainty()
    base = band_for(result, u)
    assert base["range_km_p05"] < result.range_km < base["range_km_p95"]
    assert base["energy_wh_per_km_p05"] < result.energy_wh_per_km < base["energy_wh_per_km_p95"]
    for name in ("drag_coefficient", "mass", "aux_power_w", "usable_fraction"):
        wider = band_for(result, u.with_input(name, 3 * u.inputs[name].half_width_90))
        assert wider["range_km_p95"] - wider["range_km_p05"] > base["range_km_p95"] - base["range_km_p05"], name
    none = u
    for name in u.inputs:
        none = none.with_input(name, 0.0)
    flat = band_for(result, none)
    assert flat["range_km_p05"] == pytest.approx(result.range_km, rel=1e-9)
    assert flat["range_km_p95"] == pytest.approx(result.range_km, rel=1e-9)


# ---- a user's CSV ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("body,row,words", [
    ("time_s,speed_mps\n0,0\n1,20\n2,95\n3,0\n", 4, "km/h under a speed_mps header"),
    ("time_s,speed_mps\n0,0\n1,12\n2,12\n3,0\n", 3, "m/s^2"),
    ("time_s,speed_mps,grade_percent\n0,0,0\n1,2,40\n2,0,0\n", 3, "steeper than 35 %"),
])
def test_implausible_csv_names_the_row(tmp_path, body, row, words):
    f = tmp_path / "trace.csv"
    f.write_text(body)
    with pytest.raises(CycleError) as err:
        read_cycle_csv(f)
    assert f"row {row}" in str(err.value) and words in str(err.value) and "trace.csv" in str(err.value)


def test_csv_that_goes_nowhere_is_an_error(tmp_path):
    f = tmp_path / "parked.csv"
    f.write_text("time_s,speed_mps\n0,0\n1,0\n2,0\n")
    with pytest.raises(CycleError, match="no distance"):
        read_cycle_csv(f)
