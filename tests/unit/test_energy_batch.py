"""The batch form: many variants in one vectorized call equal the same variants run one at a time."""
from dataclasses import replace

import numpy as np
import pytest
from conftest import SAKURA

from kei.errors import KeiError
from kei.vehicle.cycles import load_cycle
from kei.vehicle.energy import BATCH_BLOCK, batch_params, energy_per_km_batch, params_from_vehicle, simulate
from kei.vehicle.files import load_vehicle

N_VARIANTS = 2 * BATCH_BLOCK + 5  # three blocks, the last one partial


@pytest.fixture(scope="module")
def sakura():
    return load_vehicle(SAKURA)


def variants(n):
    rng = np.random.default_rng(7)
    return {
        "curb_mass_kg": rng.uniform(500, 1800, n),
        "drag_coefficient": rng.uniform(0.25, 0.45, n),
        "peak_power_kw": rng.uniform(15, 120, n),
        "peak_torque_nm": rng.uniform(80, 300, n),
    }


def one_at_a_time(v, var, i, cycle):
    car = replace(v, body=replace(v.body, curb_mass_kg=var["curb_mass_kg"][i], drag_coefficient=var["drag_coefficient"][i]),
                  motor=replace(v.motor, peak_power_kw=var["peak_power_kw"][i], peak_torque_nm=var["peak_torque_nm"][i]))
    return simulate(car, cycle)


@pytest.mark.parametrize("cycle_name", ["wltc_3b", "us06", "epa_combined"])
def test_batch_equals_single_runs_across_blocks(sakura, cycle_name):
    # A fixed payload: the same test mass for every procedure (a procedure would pick its own), and
    # raw traces (a procedure's trace class would follow each variant's power). The Sakura is governed
    # at 130 km/h, so on wltc_3b every variant drives forward steps where the trace is faster.
    sakura = replace(sakura, load=replace(sakura.load, payload_kg=100.0))
    cycle = load_cycle(cycle_name)
    var = variants(N_VARIANTS)
    p = params_from_vehicle(sakura)
    batch = batch_params(p, mass_kg=var["curb_mass_kg"] + sakura.load.payload_kg,
                         drag_area_m2=var["drag_coefficient"] * sakura.body.frontal_area_m2 * sakura.road_load.aero_drag_factor,
                         motor_peak_power_w=var["peak_power_kw"] * 1000, motor_peak_torque_nm=var["peak_torque_nm"])
    got = energy_per_km_batch(batch, cycle)
    assert got.shape == (N_VARIANTS,)
    singles = [one_at_a_time(sakura, var, i, cycle) for i in range(N_VARIANTS)]
    expected = np.array([r.energy_wh_per_km for r in singles])
    assert got == pytest.approx(expected, rel=1e-12)
    # The set must exercise the limits too, or agreement would prove little.
    if cycle_name == "us06":
        assert any(r.trace_miss_s > 0 for r in singles) and any(r.trace_miss_s == 0 for r in singles)


def test_batch_of_scalars_is_one_variant(sakura):
    p = params_from_vehicle(sakura)
    got = energy_per_km_batch(p, load_cycle("udds"))
    assert got.shape == (1,)
    assert got[0] == pytest.approx(simulate(sakura, load_cycle("udds")).energy_wh_per_km, rel=1e-12)


def test_length_one_arrays_broadcast_against_longer_ones(sakura):
    p = params_from_vehicle(sakura)
    masses = np.linspace(900, 1400, BATCH_BLOCK + 3)
    mixed = energy_per_km_batch(batch_params(p, mass_kg=masses, aux_power_w=[500.0]), load_cycle("udds"))
    plain = energy_per_km_batch(batch_params(p, mass_kg=masses, aux_power_w=np.full(masses.size, 500.0)),
                                load_cycle("udds"))
    assert mixed == pytest.approx(plain, rel=1e-12)


def test_energy_rises_with_mass_and_drag(sakura):
    p = params_from_vehicle(sakura)
    cycle = load_cycle("wltc_jp")
    by_mass = energy_per_km_batch(batch_params(p, mass_kg=np.linspace(600, 2000, 15)), cycle)
    by_drag = energy_per_km_batch(batch_params(p, drag_area_m2=np.linspace(0.4, 1.2, 15)), cycle)
    assert np.all(np.diff(by_mass) > 0) and np.all(np.diff(by_drag) > 0)


def test_unequal_lengths_are_an_error(sakura):
    p = batch_params(params_from_vehicle(sakura), mass_kg=[1000.0, 1100.0], drag_area_m2=[0.6, 0.7, 0.8])
    with pytest.raises(KeiError, match="different lengths"):
        energy_per_km_batch(p, load_cycle("udds"))
