"""The energy-per-km fits the MILP uses, against the energy model itself."""
import numpy as np
import pytest

from kei.optimizer.prepare.fit import PairPhysics, fit_energy
from kei.vehicle.cycles import load_cycle
from kei.vehicle.energy import batch_params, energy_per_km_batch, road_load_from_body
from kei.vehicle.files import load_model_defaults
from kei.vehicle.procedures import raw_trace_payload_kg

DEFAULTS = load_model_defaults()
MAP_MAX = max(DEFAULTS["motor"]["efficiency_values"])


def _phys(n=2):
    # As prepare() hands them over: the bodies' road load as a coastdown sees it (the model's convention).
    cda, crr = road_load_from_body(np.array([0.70, 0.55])[:n], np.array([0.009, 0.008])[:n], DEFAULTS["road_load"])
    return PairPhysics(drag_area_m2=cda, rolling_resistance_coefficient=crr,
                       peak_power_w=np.array([47000.0, 60000.0])[:n], peak_torque_nm=np.array([195.0, 160.0])[:n],
                       max_speed_rpm=np.array([10455.0, 12000.0])[:n], gear_ratio=np.array([8.5, 9.0])[:n],
                       map_scale=np.array([0.93, 0.95])[:n] / MAP_MAX)


@pytest.mark.parametrize("cycle_name", ["wltc_jp", "epa_combined"])
def test_linear_fit_is_close_and_its_error_is_reported(cycle_name):
    lo, hi = np.array([950.0, 1000.0]), np.array([1350.0, 1400.0])
    fit = fit_energy(_phys(), lo, hi, load_cycle(cycle_name), DEFAULTS, top_speed_kmh=None, mass_points=5)
    assert fit.variants == 2 * 6
    assert (fit.max_rel_error < 0.005).all() and (fit.max_rel_error > 0).all()
    assert (fit.slope_wh_per_km_per_kg > 0).all()


def test_pack_loss_model_predicts_a_real_packs_consumption():
    """w(M) x (1 + R / V^2 x P_eff) against the energy model with a real pack's R and V."""
    from kei.vehicle.energy import params_from_vehicle
    from kei.vehicle.files import vehicle_from_dict

    cycle = load_cycle("wltc_jp")
    mass = 1150.0
    fit = fit_energy(_phys(1), np.array([mass - 100]), np.array([mass + 100]), cycle, DEFAULTS, top_speed_kmh=None,
                     mass_points=3)
    # 96s1p of a 56.3 Ah, 1.2 mOhm NMC pouch cell (the Sakura's pack).
    series, cell_r, cell_v = 96, 0.0012, 3.65
    r_ohm, v = cell_r * series, cell_v * series
    scale = 0.93 / MAP_MAX
    car = vehicle_from_dict({
        "name": "pack probe",
        "body": {"curb_mass_kg": mass - raw_trace_payload_kg(), "drag_coefficient": 0.34,
                 "frontal_area_m2": 0.70 / 0.34, "rolling_resistance_coefficient": 0.009, "length_m": 3.4,
                 "width_m": 1.48, "height_m": 1.65},
        "battery": {"energy_kwh": 96 * 56.3 * 3.65 / 1000, "nominal_voltage_v": v, "chemistry": "nmc", "series": 96,
                    "parallel": 1, "cell": {"id": "c", "chemistry": "nmc", "capacity_ah": 56.3, "nominal_voltage_v": cell_v,
                                            "min_voltage_v": 3.0, "max_voltage_v": 4.2, "internal_resistance_mohm": 1.2,
                                            "max_discharge_c": 20.0, "max_charge_c": 20.0}},
        "motor": {"peak_power_kw": 47.0, "peak_torque_nm": 195.0, "max_speed_rpm": 10455.0,
                  "efficiency_values": [x * scale for x in DEFAULTS["motor"]["efficiency_values"]]},
        "driveline": {"gear_ratio": 8.5},
    }, defaults=DEFAULTS)
    actual = energy_per_km_batch(batch_params(params_from_vehicle(car), mass_kg=[mass]), cycle)[0]
    predicted = fit.wh_per_km(0, mass) * (1 + r_ohm / v**2 * fit.loss_power_w[0])
    assert predicted == pytest.approx(actual, rel=2e-3)
    # The loss term matters at this accuracy: without it the prediction is further off.
    assert abs(fit.wh_per_km(0, mass) / actual - 1) > abs(predicted / actual - 1)


def test_content_option_deltas_match_a_separate_fit_of_the_changed_car():
    """An option's delta (same batch) against fitting the car with the option applied on its own: drag
    area x 0.96, the tyre's own coefficient x 0.85 (not the convention's parasitic share), +300 W."""
    lo, hi = np.array([950.0, 1000.0]), np.array([1350.0, 1400.0])
    tyre = np.array([0.009, 0.008])
    cycle = load_cycle("epa_combined")
    options = ((0.96, 1.0, 0.0), (1.0, 0.85, 0.0), (1.0, 1.0, 300.0))
    fit = fit_energy(_phys(), lo, hi, cycle, DEFAULTS, top_speed_kmh=None, mass_points=5, options=options, tyre_crr=tyre)
    assert fit.variants == 2 * (6 + 3 * 5)
    base = _phys()
    cda_t, crr_t = road_load_from_body(np.array([0.70, 0.55]) * 0.96, tyre, DEFAULTS["road_load"])
    _, crr_lrr = road_load_from_body(np.array([0.70, 0.55]), tyre * 0.85, DEFAULTS["road_load"])
    aux = {**DEFAULTS, "auxiliary": {**DEFAULTS["auxiliary"], "power_w": DEFAULTS["auxiliary"]["power_w"] + 300.0}}
    changed = [(PairPhysics(**{**base.__dict__, "drag_area_m2": cda_t}), DEFAULTS),
               (PairPhysics(**{**base.__dict__, "rolling_resistance_coefficient": crr_lrr}), DEFAULTS),
               (base, aux)]
    for k, (phys, defaults) in enumerate(changed):
        own = fit_energy(phys, lo, hi, cycle, defaults, top_speed_kmh=None, mass_points=5)
        for p in range(2):
            for mass in (lo[p], hi[p]):
                expected = own.wh_per_km(p, mass) - fit.wh_per_km(p, mass)
                assert fit.option_wh_per_km(p, k, mass) == pytest.approx(expected, rel=1e-9, abs=1e-9)
                assert expected < 0 if k < 2 else expected > 0   # less drag or rolling saves, more load costs
