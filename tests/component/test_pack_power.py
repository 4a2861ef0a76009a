"""The pack's power at two time scales (real HiGHS): its cells' pulse rate feeds the motor's peak,
their continuous rate the needs held for minutes (a grade at speed). Expected pack sizes are worked
out here from the road-load physics and the cell's V I - I^2 R, not read from the model's data."""
import dataclasses
import math

import numpy as np
import pytest
from conftest import ROOT

from kei.errors import InfeasibleError
from kei.optimizer.inputs.catalog import load_catalog
from kei.optimizer.inputs.parts import BodySpec, Catalog, CellSpec, MotorSpec, PackIntegration
from kei.optimizer.inputs.problem import load_problem, problem_from_dict
from kei.optimizer.solving.pipeline import solve as solve_problem
from kei.vehicle.files import load_model_defaults

DEFAULTS = load_model_defaults()
MOTOR = MotorSpec("m40", "40 kW unit", 40.0, 20.0, 150.0, 12000.0, 0.93, "PMSM", 50.0, 1000.0, 54.0, 1000.0, "US")
BODY = BodySpec("b", "kei-sized body", "high_strength_steel", 3.4, 1.48, 1.6, 800.0, 0.33, 2.0, 0.009, 400.0, 0.0,
                False, 5000.0, "US")
PACK = PackIntegration(30.0, 0.65, 0.5, 20, 140, 1, 1)     # one string: the pack size is the series count
GRADE_PERCENT, GRADE_KMH = 4.0, 70.0


def cell(cid, continuous_c, peak_c):
    return CellSpec(cid, cid, "nmc", "pouch", 50.0, 3.65, 2.9, 4.2, 0.8, 0.4, continuous_c, 1.0, 1.0, 100.0, "US", peak_c)


def cell_w(c: CellSpec, c_rate: float) -> float:
    current_a = c.capacity_ah * c_rate
    return current_a * (c.nominal_voltage_v - current_a * c.internal_resistance_mohm / 1000.0)


def motor_eff(shaft_w: float) -> float:
    m = DEFAULTS["motor"]
    scale = MOTOR.peak_efficiency / max(m["efficiency_values"])
    return scale * float(np.interp(shaft_w / (MOTOR.peak_power_kw * 1000), m["efficiency_power_fractions"],
                                   m["efficiency_values"]))


def peak_draw_w() -> float:
    peak_w = MOTOR.peak_power_kw * 1000
    return peak_w / motor_eff(peak_w) + DEFAULTS["auxiliary"]["power_w"]


def grade_draw_w(test_mass_kg: float) -> float:
    """Pack power holding GRADE_PERCENT at GRADE_KMH: road load (the body's Cd A and Crr through the
    model's road-load convention), driveline, the motor map at that load."""
    env, road, v = DEFAULTS["environment"], DEFAULTS["road_load"], GRADE_KMH / 3.6
    theta = math.atan(GRADE_PERCENT / 100)
    crr = BODY.rolling_resistance_coefficient + road["parasitic_rolling_coefficient"]
    wheel_w = (0.5 * env["air_density_kg_m3"] * BODY.drag_area_m2 * road["aero_drag_factor"] * v**3
               + test_mass_kg * env["gravity_m_s2"] * (math.sin(theta) + crr * math.cos(theta)) * v)
    shaft_w = wheel_w / DEFAULTS["driveline"]["efficiency"]
    return shaft_w / motor_eff(shaft_w) + DEFAULTS["auxiliary"]["power_w"]


def solve(c: CellSpec, grade: bool):
    perf = {"grade_percent": GRADE_PERCENT, "grade_speed_kmh": GRADE_KMH} if grade else {}
    problem = problem_from_dict({"objective": "min_price", "cycle": "wltc_jp", "price_cap_usd": 1e6, "min_range_km": 10.0,
                                 "regulation": {"profile": "none"}, "price": {"model": "us_2025"}, "performance": perf},
                                file="<pack power>")
    catalog = Catalog(cells=(c,), motors=(MOTOR,), bodies=(BODY,), pack=PACK, source="<pack power>")
    return solve_problem(problem, catalog=catalog).best


def binding(x) -> set[str]:
    return {b["name"] for b in x.binding}


def test_a_pulse_rich_cell_is_sized_by_the_continuous_need():
    """5C for seconds, 1C continuous: the peak alone would take 53 cells; holding the grade takes more."""
    c = cell("pulse_rich", continuous_c=1.0, peak_c=5.0)
    by_peak = math.ceil(peak_draw_w() / cell_w(c, c.peak_discharge_c))
    level = solve(c, grade=False)
    assert level.series == by_peak and "pack_peak_power" in binding(level)
    x = solve(c, grade=True)
    assert x.series > by_peak + 10
    assert "pack_continuous_power_grade" in binding(x) and "pack_peak_power" not in binding(x)
    # The chosen pack holds the grade at its continuous rate; one cell less would not (the model takes the
    # motor map's lowest efficiency over the pair's load range, so it may ask up to ~2 % more than needed).
    assert x.series * cell_w(c, c.max_discharge_c) >= grade_draw_w(x.test_mass_kg)
    lighter_kg = x.test_mass_kg - c.mass_kg / PACK.cell_to_pack_mass_ratio
    assert (x.series - 1) * cell_w(c, c.max_discharge_c) < 1.02 * grade_draw_w(lighter_kg)
    assert x.continuous_need_w["grade"] == pytest.approx(grade_draw_w(x.test_mass_kg), rel=0.02)
    assert x.continuous_need_w["grade"] >= grade_draw_w(x.test_mass_kg)


def test_a_cell_without_pulse_headroom_is_sized_by_the_motor_peak():
    """2.5C both ways: the peak takes 101 cells, far more than the grade's ~15 kW needs."""
    c = cell("steady", continuous_c=2.5, peak_c=2.5)
    by_peak = math.ceil(peak_draw_w() / cell_w(c, c.peak_discharge_c))
    for grade in (False, True):
        x = solve(c, grade=grade)
        assert x.series == by_peak
        assert "pack_peak_power" in binding(x) and not any(b.startswith("pack_continuous") for b in binding(x))
        assert x.pack_peak_power_w >= peak_draw_w() > (x.series - 1) * cell_w(c, c.peak_discharge_c)


def test_the_old_rule_peak_at_the_continuous_rate_is_a_different_answer():
    """With the pulse rate ignored (peak = continuous), the pulse-rich cell needs 246 cells: none fit."""
    c = cell("pulse_rich", continuous_c=1.0, peak_c=5.0)
    with pytest.raises(InfeasibleError, match="no pack fits the motor's voltage window and power need"):
        solve(dataclasses.replace(c, peak_discharge_c=c.max_discharge_c), grade=True)


# ---- the Nissan Sakura: AESC NMC pouch, 2C continuous, on a 47 kW motor ------------------------
CATALOG = load_catalog(ROOT / "configs" / "catalog")
JP_KEI = load_problem(ROOT / "configs" / "problems" / "jp_kei.toml")


def aesc_only(cell_rates=None, **parts):
    aesc = CATALOG.cell("aesc_56ah_jp")
    if cell_rates is not None:
        aesc = dataclasses.replace(aesc, **cell_rates)
    return dataclasses.replace(CATALOG, cells=(aesc,), **parts)


def test_a_sakura_like_build_is_a_design_in_jp_kei():
    """96-97 AESC cells in series (~20 kWh) feed the MM48's 47 kW only at their pulse rate (3C): 2C
    continuous gives ~38 kW. jp_kei's limits, cells restricted to the Sakura's: the MM48 and 97s1p. The
    cap is lifted: with the road-load convention fitted on measured coastdowns (docs/calibration.md) the
    mild-steel body, the only one under the cap, no longer holds jp_kei's 5 % at 80 km/h on the MM48's
    20 kW continuous with this pack, so the build needs a lighter body above the cap."""
    x = solve_problem(dataclasses.replace(JP_KEI, price_cap_usd=20000.0), catalog=aesc_only()).best
    assert x.motor.id == "nissan_mm48_47kw" and x.parallel == 1 and x.series in (96, 97)
    assert 19.5 <= x.pack_energy_wh / 1000 <= 20.5 and x.body.material in ("mild_steel", "high_strength_steel")
    assert x.pack_continuous_power_w < 47_000 < x.pack_peak_power_w
    assert x.verified_range_km > 150
    # The Sakura's own body (high-strength steel, JP) costs more than the cap in this price model (docs/catalog.md:
    # +7 % on the real car): with the cap lifted the exact Sakura parts are a design too.
    sakura = aesc_only(motors=(CATALOG.motor("nissan_mm48_47kw"),), bodies=(CATALOG.body("kei_hss_jp"),))
    y = solve_problem(dataclasses.replace(JP_KEI, price_cap_usd=20000.0), catalog=sakura).best
    assert y.series in (96, 97) and y.parallel == 1
    # Under the old rule (the motor's peak at the continuous 2C) no AESC pack can drive a 47 kW kei car.
    with pytest.raises(InfeasibleError):
        solve_problem(JP_KEI, catalog=aesc_only({"peak_discharge_c": 2.0}))
