"""Performance needs as per-pair mass limits: checked against an independent time-domain
integration and against the energy model's own trace-miss verdict."""
import math

import numpy as np
import pytest

from kei.optimizer.prepare.performance import (
    Road,
    accel_mass_limit,
    accel_time_s,
    cycle_mass_limit,
    steady_speed_mass_limit,
)
from kei.vehicle.cycles import load_cycle
from kei.vehicle.energy import road_load_from_body, simulate
from kei.vehicle.files import load_model_defaults, vehicle_from_dict
from kei.vehicle.procedures import raw_trace_payload_kg

DEFAULTS = load_model_defaults()
ROAD = Road.from_defaults(DEFAULTS)
# A Sakura-like pair: 47 kW, 195 N m, 10,455 rpm, gear 8.5; CdA 0.704, Crr 0.009.
CAR = dict(power_w=47000.0, torque_nm=195.0, rpm=10455.0, gear=8.5, cda=0.704, crr=0.009)


def _euler_0_100_s(mass_kg, dt=1e-3):
    v, t = 0.0, 0.0
    while v < 100 / 3.6:
        w = max(v, 1e-9) / ROAD.wheel_radius_m * CAR["gear"]
        shaft = min(CAR["power_w"], CAR["torque_nm"] * w)
        force = shaft * ROAD.driveline_efficiency / max(v, 1e-9) if v > 0 else (
            CAR["torque_nm"] * CAR["gear"] / ROAD.wheel_radius_m * ROAD.driveline_efficiency)
        net = force - 0.5 * ROAD.air_density_kg_m3 * CAR["cda"] * v**2 - mass_kg * ROAD.gravity_m_s2 * CAR["crr"]
        v += net / (mass_kg * ROAD.rotating_mass_factor) * dt
        t += dt
    return t


@pytest.mark.parametrize("mass_kg", [900.0, 1175.0, 1500.0])
def test_accel_time_matches_time_domain_integration(mass_kg):
    t = accel_time_s(np.array([mass_kg]), 100.0, [CAR["power_w"]], [CAR["torque_nm"]], [CAR["cda"]], [CAR["crr"]],
                     [CAR["gear"]], ROAD, speed_points=400)[0]
    assert t == pytest.approx(_euler_0_100_s(mass_kg), rel=3e-3)


def test_accel_mass_limit_is_the_mass_that_just_makes_the_time():
    args = ([CAR["power_w"]], [CAR["torque_nm"]], [CAR["rpm"]], [CAR["cda"]], [CAR["crr"]], [CAR["gear"]], ROAD)
    limit = accel_mass_limit(12.0, np.array([800.0]), np.array([2000.0]), *args, speed_points=400, bisection_steps=40)[0]
    assert 800 < limit < 2000
    t = lambda m: accel_time_s(np.array([m]), 100.0, [CAR["power_w"]], [CAR["torque_nm"]], [CAR["cda"]],  # noqa: E731
                               [CAR["crr"]], [CAR["gear"]], ROAD, speed_points=400)[0]
    assert t(limit - 1.0) < 12.0 < t(limit + 1.0)
    # Unreachable at the lightest mass: -inf; a motor that cannot turn fast enough: -inf.
    assert accel_mass_limit(2.0, np.array([800.0]), np.array([2000.0]), *args, speed_points=400,
                            bisection_steps=40)[0] == -math.inf
    slow = ([CAR["power_w"]], [CAR["torque_nm"]], [3000.0], [CAR["cda"]], [CAR["crr"]], [CAR["gear"]], ROAD)
    assert accel_mass_limit(12.0, np.array([800.0]), np.array([2000.0]), *slow, speed_points=400,
                            bisection_steps=40)[0] == -math.inf


def test_steady_speed_limit_balances_power():
    m = steady_speed_mass_limit(100.0, 5.0, [20000.0], [CAR["cda"]], [CAR["crr"]], [CAR["rpm"]], [CAR["gear"]], ROAD)[0]
    v, th = 100 / 3.6, math.atan(0.05)
    need = (0.5 * 1.2 * CAR["cda"] * v**3 + m * ROAD.gravity_m_s2 * (math.sin(th) + CAR["crr"] * math.cos(th)) * v)
    assert need / ROAD.driveline_efficiency == pytest.approx(20000.0, rel=1e-9)


def _vehicle(test_mass_kg, power_kw=20.0):
    payload = raw_trace_payload_kg()
    return vehicle_from_dict({
        "name": "limit probe",
        "body": {"curb_mass_kg": test_mass_kg - payload, "drag_coefficient": 0.34, "frontal_area_m2": CAR["cda"] / 0.34,
                 "rolling_resistance_coefficient": CAR["crr"], "length_m": 3.4, "width_m": 1.48, "height_m": 1.65},
        "battery": {"energy_kwh": 40.0, "nominal_voltage_v": 350.0, "chemistry": "nmc"},
        "motor": {"peak_power_kw": power_kw, "peak_torque_nm": CAR["torque_nm"], "max_speed_rpm": CAR["rpm"]},
        "driveline": {"gear_ratio": CAR["gear"]},
    }, defaults=DEFAULTS)


def test_cycle_mass_limit_agrees_with_the_energy_models_trace_miss():
    cycle = load_cycle("udds")
    power_kw = 20.0
    # The optimizer gives the limits the bodies' road load as a coastdown sees it, as the model does.
    cda, crr = road_load_from_body(CAR["cda"], CAR["crr"], DEFAULTS["road_load"])
    limit = cycle_mass_limit(cycle, [power_kw * 1000], [CAR["torque_nm"]], [CAR["rpm"]], [float(cda)], [float(crr)],
                             [CAR["gear"]], ROAD, None)[0]
    assert 600 < limit < 3000
    assert simulate(_vehicle(limit - 1.0, power_kw), cycle).trace_miss_steps == 0
    assert simulate(_vehicle(limit + 10.0, power_kw), cycle).trace_miss_steps > 0


def test_cycle_faster_than_the_speed_cap_cannot_be_followed():
    cycle = load_cycle("hwfet")  # 96 km/h
    args = ([47000.0], [195.0], [CAR["rpm"]], [CAR["cda"]], [CAR["crr"]], [CAR["gear"]], ROAD)
    assert cycle_mass_limit(cycle, *args, 90.0)[0] == -math.inf
    assert cycle_mass_limit(cycle, *args, None)[0] > 1000
