"""Physics of the energy model, checked against formulas computed here, independently of the model.

Traces are built in the test (no files, no solver); every expected number comes from a textbook
formula or from a second, differently-arranged computation (a sum, a brute-force search).
"""
import math
from dataclasses import replace

import numpy as np
import pytest
from conftest import SAKURA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kei.units import WH_PER_J
from kei.vehicle.cycles import Cycle, concatenate, load_cycle
from kei.vehicle.energy import drive_to_empty_km, simulate
from kei.vehicle.files import Cell, load_vehicle

ROAD_LOAD_TERMS = ("inertia", "aero", "rolling", "grade")
LOSS_TERMS = ("friction_brake", "driveline_loss", "motor_loss", "battery_loss", "aux")


@pytest.fixture(scope="module")
def sakura():
    return load_vehicle(SAKURA)


def trace(time_s, speed_mps, grade_percent=0.0, name="test"):
    t = np.asarray(time_s, dtype=float)
    return Cycle(name, t, np.asarray(speed_mps, dtype=float) * np.ones_like(t), grade_percent * np.ones_like(t))


def with_(v, **sections):
    """`v` with some fields of its sections replaced: with_(v, body={"drag_coefficient": 0.5})."""
    top = {k: val for k, val in sections.items() if not isinstance(val, dict)}
    nested = {k: replace(getattr(v, k), **val) for k, val in sections.items() if isinstance(val, dict)}
    return replace(v, **top, **nested)


def pack_current_a(v, terminal_w):
    """Discharge current from P = V I - I^2 R (the smaller root), written out here on its own."""
    volt, res = v.battery.nominal_voltage_v, v.battery.resistance_ohm
    return (volt - math.sqrt(volt**2 - 4 * res * terminal_w)) / (2 * res)


def assert_ledger_closes(result, rel=1e-9):
    led = result.ledger_wh
    terms = sum(led[k] for k in ROAD_LOAD_TERMS + LOSS_TERMS) + led["shortfall"]
    scale = sum(abs(led[k]) for k in ROAD_LOAD_TERMS + LOSS_TERMS) + 1e-9
    assert abs(terms - led["battery_chemical"]) <= rel * scale, led
    # ...and the ledger's chemical energy is the one the result reports per km.
    assert led["battery_chemical"] == pytest.approx(float(np.sum(result.chemical_power_w * result.dt_s)) * WH_PER_J)


# ---- the energy ledger ----------------------------------------------------------------------------
@pytest.mark.parametrize("cycle", ["udds", "hwfet", "us06", "wltc_3b", "wltc_jp", "nedc", "epa_combined"])
def test_ledger_closes_on_bundled_cycles(sakura, cycle):
    assert_ledger_closes(simulate(sakura, load_cycle(cycle)))


def test_ledger_closes_on_hilly_trace(sakura):
    # 20 min at 60 km/h over rolling hills, +-8 %: climbing and regen downhill both active.
    t = np.arange(0, 1201.0)
    grade = 8.0 * np.sin(2 * np.pi * t / 300.0)
    speed = np.interp(t, [0, 60, 1150, 1200], [0, 60, 60, 0]) / 3.6
    result = simulate(sakura, Cycle("hills", t, speed, grade))
    assert_ledger_closes(result)
    assert result.ledger_wh["grade"] != 0
    assert result.motor_power_w.min() < 0  # regenerating downhill
    assert result.trace_miss_s == 0


def test_ledger_closes_when_the_car_misses_the_trace(sakura):
    # An 8 kW Sakura falls behind US06 for minutes: it drives what it can (forward steps), so no
    # energy is missing from the ledger and the distance is the one it drove.
    weak = with_(sakura, motor={"peak_power_kw": 8.0})
    result = simulate(weak, load_cycle("us06"))
    assert result.trace_miss_s > 60
    assert result.distance_km < 0.9 * load_cycle("us06").distance_km
    assert result.shortfall_wh == pytest.approx(0.0, abs=1e-6)
    assert not result.valid_test and "behind the trace" in result.validity_reason
    assert_ledger_closes(result)


# ---- road load ------------------------------------------------------------------------------------
@pytest.mark.parametrize("speed_kmh,grade_percent", [(50.0, 0.0), (100.0, 0.0), (70.0, 4.0)])
def test_constant_speed_matches_road_load_formula(sakura, speed_kmh, grade_percent):
    v_mps = speed_kmh / 3.6
    duration_s = 600.0
    result = simulate(sakura, trace([0.0, 200.0, duration_s], v_mps, grade_percent))

    body, env, rl = sakura.body, sakura.environment, sakura.road_load
    theta = math.atan(grade_percent / 100)
    # The body's road load as a coastdown sees it (model_defaults [road_load]) at the test mass.
    cda = body.drag_coefficient * body.frontal_area_m2 * rl.aero_drag_factor
    crr = body.rolling_resistance_coefficient + rl.parasitic_rolling_coefficient
    force_n = (0.5 * env.air_density_kg_m3 * cda * v_mps**2
               + result.test_mass_kg * env.gravity_m_s2 * (crr * math.cos(theta) + math.sin(theta)))
    wheel_w = force_n * v_mps
    assert result.wheel_power_w == pytest.approx(wheel_w, rel=1e-12)

    shaft_w = wheel_w / sakura.driveline.efficiency
    eta_motor = np.interp(shaft_w / (sakura.motor.peak_power_kw * 1000), sakura.motor.efficiency_power_fractions,
                          sakura.motor.efficiency_values)
    terminal_w = shaft_w / eta_motor + sakura.auxiliary.power_w
    assert result.battery_power_w == pytest.approx(terminal_w, rel=1e-12)
    current_a = pack_current_a(sakura, terminal_w)
    assert result.battery_current_a == pytest.approx(current_a, rel=1e-9)
    chemical_wh = sakura.battery.nominal_voltage_v * current_a * duration_s * WH_PER_J
    assert result.energy_wh_per_km == pytest.approx(chemical_wh / (v_mps * duration_s / 1000), rel=1e-9)
    assert result.distance_km == pytest.approx(v_mps * duration_s / 1000, rel=1e-12)


def test_aero_energy_doubles_with_drag_coefficient(sakura):
    cycle = load_cycle("wltc_jp")
    base = simulate(sakura, cycle).ledger_wh
    doubled = simulate(with_(sakura, body={"drag_coefficient": 2 * sakura.body.drag_coefficient}), cycle).ledger_wh
    assert doubled["aero"] == pytest.approx(2 * base["aero"], rel=1e-12)
    for term in ("inertia", "rolling", "grade"):
        assert doubled[term] == pytest.approx(base[term], rel=1e-12, abs=1e-9)
    assert doubled["battery_chemical"] > base["battery_chemical"] + base["aero"]  # plus powertrain losses on it


def test_standing_still_costs_only_auxiliary_energy(sakura):
    duration_s = 900.0
    result = simulate(sakura, trace(np.linspace(0, duration_s, 31), 0.0))
    led = result.ledger_wh
    for term in ROAD_LOAD_TERMS + ("friction_brake", "driveline_loss", "motor_loss", "shortfall"):
        assert led[term] == 0
    aux_w = sakura.auxiliary.power_w
    assert led["aux"] == pytest.approx(aux_w * duration_s * WH_PER_J, rel=1e-12)
    current_a = pack_current_a(sakura, aux_w)
    assert led["battery_loss"] == pytest.approx(current_a**2 * sakura.battery.resistance_ohm * duration_s * WH_PER_J,
                                                rel=1e-9)
    assert led["battery_chemical"] == pytest.approx(led["aux"] + led["battery_loss"], rel=1e-12)
    assert result.distance_km == 0 and result.range_km == 0


# ---- trace misses and regeneration ----------------------------------------------------------------
def test_underpowered_car_reports_missed_seconds_and_shortfall(sakura):
    peak_kw = 10.0
    weak = simulate(with_(sakura, motor={"peak_power_kw": peak_kw}), load_cycle("udds"))
    full = simulate(sakura, load_cycle("udds"))
    assert full.trace_miss_s == 0 and full.shortfall_wh == 0
    assert weak.trace_miss_steps > 0 and weak.trace_miss_s == pytest.approx(weak.trace_miss_steps)  # 1 Hz
    assert weak.motor_power_w.max() <= peak_kw * 1000 * (1 + 1e-12)
    # The shortfall is what the trace asked at the wheel minus what the weak car delivered.
    delivered_wheel_w = np.where(weak.motor_power_w > 0, weak.motor_power_w * sakura.driveline.efficiency, 0)
    asked_wheel_w = np.maximum(weak.wheel_power_w, 0)
    assert weak.shortfall_wh == pytest.approx(float(np.sum((asked_wheel_w - delivered_wheel_w) * weak.dt_s)) * WH_PER_J)


def test_torque_limit_caps_low_speed_acceleration(sakura):
    # 0 -> 36 km/h in 2 s needs ~6 kN at the wheel; 195 N m x 9 / 0.28 m gives ~6.3 kN at the motor,
    # so the (power-rich) car is torque-limited on the first steps.
    steep = trace([0.0, 1.0, 2.0, 3.0], [0.0, 5.0, 10.0, 10.0])
    result = simulate(with_(sakura, load={"payload_kg": 900.0}), steep)
    torque_limit_w = (sakura.motor.peak_torque_nm * sakura.driveline.gear_ratio / sakura.body.wheel_radius_m
                      * np.array([2.5, 7.5]))
    assert result.trace_miss_steps >= 1
    assert np.all(result.motor_power_w[:2] <= torque_limit_w * (1 + 1e-12))


def test_regen_fades_to_zero_at_low_speed_and_is_full_above(sakura):
    # Gentle 0.5 m/s2 stop from 60 km/h: braking power is small, so neither power limit binds.
    v0 = 60 / 3.6
    t = np.arange(0.0, v0 / 0.5 + 1e-9, 0.5)
    result = simulate(sakura, trace(t, np.maximum(v0 - 0.5 * t, 0.0)))
    v_avg = result.distance_m / result.dt_s
    braking = result.wheel_power_w < 0
    eta_d = sakura.driveline.efficiency
    r = sakura.regen
    # FASTSim 2's logistic fade: share = max / (1 + a exp(-b v)), v in km/h (its +1 mi/h folded into a).
    expected = r.share / (1 + r.fade_coefficient * np.exp(-r.fade_rate_per_kmh * v_avg[braking] * 3.6))
    share = -result.motor_power_w[braking] / eta_d / -result.wheel_power_w[braking]
    assert share == pytest.approx(expected, rel=1e-12)
    assert share[v_avg[braking] > 25 / 3.6].min() > 0.99 * r.share      # full above ~20 km/h
    assert share[v_avg[braking] < 3 / 3.6].max() < 0.05 * r.share       # nearly nothing below a walking pace
    half = v_avg[braking][np.argmin(np.abs(share - 0.5 * r.share))] * 3.6
    assert 7.5 < half < 9.5                                              # FASTSim 2's 50 % point: 8.5 km/h
    assert np.all(np.diff(share) < 0)  # slowing down: the share falls


def test_regen_is_limited_by_motor_power(sakura):
    # 120 -> 0 km/h in 6 s with a 1.6 t car: ~150 kW of braking, three times the motor's 47 kW.
    result = simulate(with_(sakura, load={"payload_kg": 500.0}),
                      trace(np.arange(0.0, 7.0), [120 / 3.6 * (1 - min(i, 6) / 6) for i in range(7)]))
    peak_w = sakura.motor.peak_power_kw * 1000
    assert -result.motor_power_w.min() == pytest.approx(peak_w, rel=1e-12)
    assert np.all(-result.motor_power_w <= peak_w * (1 + 1e-12))
    assert result.ledger_wh["friction_brake"] > 0
    assert_ledger_closes(result)


def cell_car(v, max_discharge_c, max_charge_c, peak_discharge_c=None):
    """`v` with a 96s2p pack of 28 Ah NMC cells (20 kWh class) and the given C-rate limits."""
    cell = Cell(id="t", chemistry="nmc", capacity_ah=28.0, nominal_voltage_v=3.65, min_voltage_v=3.0,
                max_voltage_v=4.2, internal_resistance_mohm=1.5, max_discharge_c=max_discharge_c,
                peak_discharge_c=peak_discharge_c, max_charge_c=max_charge_c)
    return with_(v, battery={"series": 96, "parallel": 2, "cell": cell, "nominal_voltage_v": 96 * 3.65,
                             "energy_kwh": 96 * 2 * 28 * 3.65 / 1000})


def test_pack_current_limits_hold_exactly(sakura):
    car = cell_car(sakura, max_discharge_c=1.0, max_charge_c=0.5)  # 56 A out, 28 A in
    result = simulate(car, load_cycle("us06"))
    max_dis_a, max_chg_a = car.battery.max_discharge_current_a, car.battery.max_charge_current_a
    assert result.trace_miss_s > 0
    assert result.battery_current_a.max() == pytest.approx(max_dis_a, rel=1e-9)
    assert -result.battery_current_a.min() == pytest.approx(max_chg_a, rel=1e-9)
    assert result.battery_current_a.max() <= max_dis_a * (1 + 1e-9)
    assert -result.battery_current_a.min() <= max_chg_a * (1 + 1e-9)
    assert_ledger_closes(result)


def test_each_step_may_draw_the_peak_current_not_only_the_continuous(sakura):
    """A 1-s step is inside a cell's pulse rating: the peak current limits it, and a cell without a
    peak rate keeps the old limit (peak = continuous)."""
    cycle = load_cycle("us06")
    old = cell_car(sakura, max_discharge_c=1.0, max_charge_c=0.5)
    pulse = cell_car(sakura, max_discharge_c=1.0, max_charge_c=0.5, peak_discharge_c=1.6)  # 56 A, 89.6 A
    assert old.battery.peak_discharge_current_a == old.battery.max_discharge_current_a == pytest.approx(56.0)
    assert pulse.battery.peak_discharge_current_a == pytest.approx(89.6)
    a, b = simulate(old, cycle), simulate(pulse, cycle)
    assert a.battery_current_a.max() == pytest.approx(56.0, rel=1e-9)
    assert b.battery_current_a.max() == pytest.approx(89.6, rel=1e-9)   # still misses US06's hardest steps
    assert 0 < b.trace_miss_s < a.trace_miss_s
    assert_ledger_closes(b)


# ---- range: cycles repeated until the usable energy is spent --------------------------------------
def test_drive_to_empty_stops_at_the_first_crossing():
    # One cycle: 50 Wh at 1 km, peak 110 Wh at 2 km, regen back to 100 Wh at 3 km. With 505 Wh usable
    # the 5th cycle would peak at 4 x 100 + 110 = 510 Wh: the pack is empty inside it, not in a 6th.
    cum_wh, cum_km = np.array([50.0, 110.0, 100.0]), np.array([1.0, 2.0, 3.0])
    expected_km = 4 * 3.0 + 1.0 + (505 - 400 - 50) / (110 - 50) * 1.0
    assert drive_to_empty_km(cum_wh, cum_km, 505.0) == pytest.approx(expected_km)
    # 400 Wh: the 4th cycle peaks at 410 Wh, so 3 whole cycles, then empty inside the 4th.
    assert drive_to_empty_km(cum_wh, cum_km, 400.0) == pytest.approx(3 * 3.0 + 1.0 + (400 - 300 - 50) / 60)
    assert drive_to_empty_km(cum_wh, cum_km, 520.0) == pytest.approx(5 * 3.0 + 20 / 50)  # the 5th just fits
    assert drive_to_empty_km(cum_wh, cum_km, 30.0) == pytest.approx(30 / 50)


@pytest.mark.parametrize("cycle", ["udds", "wltc_jp"])
def test_range_equals_brute_force_over_repeated_cycles(sakura, cycle):
    sakura = with_(sakura, load={"payload_kg": 100.0})  # the repeated raw trace and the procedure: one test mass
    one = load_cycle(cycle)
    result = simulate(sakura, one)
    copies = math.ceil(result.range_km / one.distance_km) + 1
    long = simulate(sakura, concatenate([one] * copies, "repeated"))
    cum_wh = np.cumsum(long.chemical_power_w * long.dt_s) * WH_PER_J
    cum_km = np.cumsum(long.distance_m) / 1000
    i = int(np.argmax(cum_wh >= sakura.battery.usable_energy_wh))
    frac = (sakura.battery.usable_energy_wh - cum_wh[i - 1]) / (cum_wh[i] - cum_wh[i - 1])
    assert result.range_km == pytest.approx(cum_km[i - 1] + frac * (cum_km[i] - cum_km[i - 1]), rel=1e-9)


# ---- property: the ledger closes for any trace and any car ----------------------------------------
@st.composite
def random_runs(draw):
    n = draw(st.integers(3, 60))
    dt = draw(st.lists(st.floats(0.2, 3.0), min_size=n - 1, max_size=n - 1))
    speed = draw(st.lists(st.floats(0.0, 40.0), min_size=n, max_size=n))
    grade = draw(st.lists(st.floats(-10.0, 10.0), min_size=n, max_size=n))
    changes = {
        "body": {"curb_mass_kg": draw(st.floats(400, 2500)), "drag_coefficient": draw(st.floats(0.2, 0.6))},
        "motor": {"peak_power_kw": draw(st.floats(3, 150))},
        "regen": {"max_fraction": draw(st.floats(0, 1))},
        "auxiliary": {"power_w": draw(st.floats(0, 2000))},
    }
    return np.concatenate([[0.0], np.cumsum(dt)]), np.array(speed), np.array(grade), changes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(random_runs())
def test_ledger_closes_for_random_traces_and_cars(sakura, run):
    t, speed, grade, changes = run
    car = with_(sakura, **changes)
    result = simulate(car, Cycle("random", t, speed, grade))
    assert_ledger_closes(result, rel=1e-9)
    led = result.ledger_wh
    for term in LOSS_TERMS:
        assert led[term] >= -1e-9, term
    assert result.shortfall_wh >= 0
    assert result.motor_power_w.max() <= car.motor.peak_power_kw * 1000 * (1 + 1e-9)
    assert -result.motor_power_w.min() <= car.motor.peak_power_kw * 1000 * (1 + 1e-9)
