"""The car the bench drives: demand from the energy model, and the forward fallback under BMS limits."""
import numpy as np
import pytest
from conftest import ROOT

from kei.hil.session.drive import Car, build_profile, terminal_power_limits_w
from kei.vehicle.cycles import load_cycle
from kei.vehicle.energy import simulate
from kei.vehicle.files import load_vehicle
from kei.vehicle.predict import predict

DESIGN = ROOT / "configs" / "designs" / "sakura_pack.toml"


@pytest.fixture(scope="module")
def car():
    return Car(build_profile(predict(load_vehicle(DESIGN), load_cycle("wltc_jp"))))


def drive(car, p_max_w, p_min_w=-1e12):
    speed, dist, limited, sent = car.profile.speed_start_list[0], 0.0, 0, []
    for i in range(car.profile.steps):
        plan = car.plan(i, speed, p_max_w, p_min_w)
        speed, dist, limited = plan.speed_end_mps, dist + plan.distance_m, limited + plan.limited
        sent.append(plan.demand_w)
    return dist / 1000.0, limited, np.array(sent)


def test_unlimited_car_follows_the_trace_with_the_models_demand(car):
    km, limited, sent = drive(car, 1e12)
    assert limited == 0 and km == pytest.approx(load_cycle("wltc_jp").distance_km, rel=1e-9)
    assert np.array_equal(sent, car.profile.prediction.terminal_w)


def test_a_power_limit_slows_the_car_and_is_never_exceeded(car):
    km, limited, sent = drive(car, 12_000.0)
    full_km = car.profile.distance_km
    assert limited > 50 and 0.8 * full_km < km < full_km  # falls behind; only the distance driven counts
    assert sent.max() <= 12_000.0
    assert drive(car, 12_000.0)[0] == km  # deterministic (a resume recomputes the same plan)


def test_regen_is_cut_to_the_charge_limit_without_changing_the_motion(car):
    km_free, _, sent_free = drive(car, 1e12)
    km, limited, sent = drive(car, 1e12, p_min_w=-2_000.0)
    assert km == km_free and sent.min() == -2_000.0 and sent_free.min() < -2_000.0
    assert limited == int(np.sum(sent_free < -2_000.0))


def test_terminal_power_limits():
    # E = 300 + 10 x 0.1 = 301 V; at 0.9 x 100 A: 90 x (301 - 9) W; charge 0.9 x 50 A at 301 + 4.5 V.
    p_max, p_min = terminal_power_limits_w(300.0, 10.0, 100.0, 50.0, 0.1, 0.9)
    assert p_max == pytest.approx(90 * (301 - 9)) and p_min == pytest.approx(-45 * (301 + 4.5))
    # beyond E / 2R more current gives less power: the limit is the pack's maximum power
    p_max, _ = terminal_power_limits_w(300.0, 0.0, 1e6, 0.0, 0.1, 1.0)
    assert p_max == pytest.approx(300.0**2 / 0.4)


def test_predicted_range_is_the_models_unadjusted_range():
    vehicle = load_vehicle(DESIGN)
    assert predict(vehicle, load_cycle("udds")).figures()["predicted_range_km"] == pytest.approx(
        simulate(vehicle, load_cycle("udds")).range_km, rel=1e-12)
    combined = predict(vehicle, load_cycle("epa_combined")).figures()
    assert combined["label_range_km"] == pytest.approx(simulate(vehicle, load_cycle("epa_combined")).range_km)
    assert combined["predicted_range_km"] > combined["label_range_km"] / 0.7 * 0.9  # unadjusted: no x0.7


def test_predicted_series_repeats_the_cycle(car):
    vehicle = load_vehicle(DESIGN)
    s = predict(vehicle, load_cycle("wltc_jp")).series(3000.0)
    assert s["time_s"][-1] <= 3000.0 and len(s["time_s"]) == 3000
    n = car.profile.steps  # one cycle, 1477 s: the second repetition uses what the first did
    assert 1.0 - s["soc"][n - 1] == pytest.approx(s["soc"][n - 1] - s["soc"][2 * n - 1], rel=1e-9)
    assert np.array_equal(s["speed_kmh"][:n], s["speed_kmh"][n:2 * n])
