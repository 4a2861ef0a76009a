"""The emulated pack and BMS logic against docs/bms_model.md, equation by equation."""
import dataclasses
import math
from pathlib import Path

import pytest

from kei.hil.emulator.bms import Bms
from kei.hil.emulator.pack import OcvCurve
from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.hil.wire.protocol import FaultFlag
from kei.vehicle.files import load_vehicle

SAKURA_PACK = Path(__file__).resolve().parents[2] / "configs" / "designs" / "sakura_pack.toml"
BMS = load_bms_config()
NMC, LFP = BMS.chemistry("nmc"), BMS.chemistry("lfp")
BASE = pack_setup(load_vehicle(SAKURA_PACK), BMS).configure
# A small pack with round numbers: 3 groups of 2 x 10 Ah, the weakest 20 % smaller.
SMALL = dataclasses.replace(BASE, series=3, parallel=2, capacity_ah=10.0, r0_ohm=0.02, r1_ohm=0.03, tau1_s=10.0,
                            capacity_spread=0.2, max_discharge_a=40.0, max_charge_a=20.0, soc_true=0.6,
                            soc_weak_true=0.6, soc_estimate=0.6)


def make(cfg=SMALL, table=NMC, **changes):
    return Bms(dataclasses.replace(cfg, **changes), table.ocv_mv)


def test_ocv_curve_lookup_and_inverse():
    curve = OcvCurve(NMC.ocv_mv)
    v = NMC.ocv_v
    assert curve.ocv(0.5) == pytest.approx(v[10])
    assert curve.ocv(0.525) == pytest.approx((v[10] + v[11]) / 2)
    assert curve.ocv(-0.3) == v[0] and curve.ocv(1.7) == v[-1] and curve.ocv(math.nan) == v[-1]
    soc, slope = curve.inverse((v[10] + v[11]) / 2)
    assert soc == pytest.approx(0.525) and slope == pytest.approx((v[11] - v[10]) / 0.05)
    assert curve.inverse(1.0)[0] == 0.0 and curve.inverse(9.0)[0] == 1.0


def test_constant_current_discharge_drains_exactly_i_t_over_3600():
    bms = make()
    current_a, dt_s, steps = 12.5, 2.0, 100
    for seq in range(1, steps + 1):
        bms.step(seq, dt_s, 0, current_a)
    ah = current_a * dt_s * steps / 3600
    p = bms.pack
    assert (0.6 - p.soc_t) * 20.0 == pytest.approx(ah, rel=1e-12)
    assert (0.6 - p.soc_w) * 20.0 * 0.8 == pytest.approx(ah, rel=1e-12)
    # The coulomb counter sees the current through the sensor gain.
    assert (0.6 - bms.soc_estimate) * 20.0 == pytest.approx(ah * SMALL.current_sensor_gain, rel=1e-12)


def test_rc_branch_follows_the_exact_exponential_whatever_the_step():
    coarse, fine = make(), make()
    coarse.step(1, 7.0, 0, 10.0)
    for seq in range(1, 15):
        fine.step(seq, 0.5, 0, 10.0)
    r1_t = SMALL.r1_ohm / SMALL.parallel
    expected = r1_t * 10.0 * (1 - math.exp(-7.0 / SMALL.tau1_s))
    assert coarse.pack.vrc_t == pytest.approx(expected, rel=1e-12)
    assert fine.pack.vrc_t == pytest.approx(expected, rel=1e-12)
    # Relaxation at zero current, and the terminal voltage it gives.
    v0 = coarse.pack.vrc_t
    coarse.step(2, 13.0, 0, 0.0)
    assert coarse.pack.vrc_t == pytest.approx(v0 * math.exp(-13.0 / SMALL.tau1_s), rel=1e-12)
    p = coarse.pack
    assert p.v_t == pytest.approx(OcvCurve(NMC.ocv_mv).ocv(p.soc_t) - p.vrc_t, rel=1e-12)
    assert p.v_w == pytest.approx(OcvCurve(NMC.ocv_mv).ocv(p.soc_w) - p.vrc_w, rel=1e-12)
    assert p.pack_voltage_v == pytest.approx(2 * p.v_t + p.v_w, rel=1e-12)


def test_terminal_voltage_and_energy_counter():
    bms = make()
    bms.step(1, 3.0, 0, 15.0)
    p = bms.pack
    curve = OcvCurve(NMC.ocv_mv)
    assert p.v_w == pytest.approx(curve.ocv(p.soc_w) - 15.0 * 0.01 / 0.8 - p.vrc_w, rel=1e-12)
    assert bms.energy_out_wh == pytest.approx(p.pack_voltage_v * 15.0 * 3.0 / 3600, rel=1e-12)


def test_power_mode_solves_the_source_equation():
    bms = make()
    bms.step(1, 5.0, 0, 10.0)  # some RC voltage, so E is not just the OCV sum
    p = bms.pack
    curve = OcvCurve(NMC.ocv_mv)
    e = 2 * (curve.ocv(p.soc_t) - p.vrc_t) + curve.ocv(p.soc_w) - p.vrc_w
    r = 2 * 0.01 + 0.01 / 0.8
    bms.step(2, 1.0, 1, 300.0)
    i = p.current_a
    assert e * i - r * i * i == pytest.approx(300.0, rel=1e-9)
    # More than the pack can give: the maximum-power current E / 2R.
    bms2 = make()
    e0 = 2 * curve.ocv(0.6) + curve.ocv(0.6)
    bms2.step(1, 1.0, 1, 1e6)
    assert bms2.pack.current_a == pytest.approx(e0 / (2 * r), rel=1e-12)
    # Regeneration: negative power, negative current.
    bms3 = make()
    bms3.step(1, 1.0, 1, -100.0)
    assert bms3.pack.current_a < 0


def test_thermal_state_explicit_euler():
    bms = make(temperature_c=30.0)
    bms.step(1, 4.0, 0, 20.0)
    heat_r = 2 * (0.01 + 0.015) + (0.01 + 0.015) / 0.8
    cooling = 1 / SMALL.thermal_resistance_k_per_w
    expected = 30.0 + 4.0 * (400.0 * heat_r - 5.0 * cooling) / SMALL.heat_capacity_j_per_k
    assert bms.pack.temp_c == pytest.approx(expected, rel=1e-12)


def rest(bms, seconds, dt=10.0, seq0=1):
    for k in range(int(seconds / dt)):
        bms.step(seq0 + k, dt, 0, 0.0)
    return seq0 + int(seconds / dt)


def test_ocv_correction_where_the_slope_allows_after_the_rest_time():
    bms = make(soc_estimate=0.5)  # true 0.6 on the steep NMC curve
    rest_s = SMALL.rest_time_s
    rest(bms, rest_s - 10.0)
    assert bms.soc_estimate == 0.5  # not yet rested long enough
    rest(bms, 10.0, seq0=100)
    # Full gain: the estimate jumps to the SOC the OCV says. The pack voltage is the mean of a
    # typical and a weakest group (both at 0.6, no spread in SOC), so exactly 0.6.
    assert bms.soc_estimate == pytest.approx(0.6, abs=1e-9) and bms.corrected
    bms.soc_estimate = 0.5
    rest(bms, 100.0, seq0=200)
    assert bms.soc_estimate == 0.5  # once per rest period
    bms.step(300, 1.0, 0, 5.0)  # a load ends the rest...
    rest(bms, rest_s, seq0=301)
    assert bms.soc_estimate == pytest.approx(0.6, abs=1e-3)  # ...and allows a new one


def test_no_ocv_correction_on_the_lfp_plateau():
    bms = make(table=LFP, soc_estimate=0.45, soc_true=0.55, soc_weak_true=0.55)
    rest(bms, SMALL.rest_time_s + 50)
    assert bms.corrected and bms.soc_estimate == 0.45
    steep = make(table=LFP, soc_estimate=0.03, soc_true=0.07, soc_weak_true=0.07)  # 5-10 %: 1.26 V per unit SOC
    rest(steep, SMALL.rest_time_s)
    assert steep.soc_estimate == pytest.approx(0.07, abs=1e-9)


def test_gain_applies_a_share_of_the_difference():
    bms = make(soc_estimate=0.5, ocv_gain=0.25)
    rest(bms, SMALL.rest_time_s)
    assert bms.soc_estimate == pytest.approx(0.5 + 0.25 * 0.1, abs=1e-9)


@pytest.mark.parametrize("flag,changes,demand,debounce", [
    (FaultFlag.UNDERVOLTAGE, dict(soc_true=0.03, soc_weak_true=0.03, soc_estimate=0.03), 55.0, "debounce_voltage_s"),
    (FaultFlag.OVERVOLTAGE, dict(soc_true=0.99, soc_weak_true=0.99, soc_estimate=0.99), -15.0, "debounce_voltage_s"),
    (FaultFlag.OVERCURRENT_DISCHARGE, dict(debounce_current_s=2.5), 61.0, "debounce_current_s"),
    (FaultFlag.OVERCURRENT_CHARGE, dict(debounce_current_s=2.5, soc_true=0.2, soc_weak_true=0.2), -31.0, "debounce_current_s"),
    (FaultFlag.OVERTEMPERATURE, dict(temperature_c=61.0, thermal_resistance_k_per_w=1e9), 0.0, "debounce_temp_s"),
])
def test_each_protection_trips_after_exactly_its_debounce_and_latches(flag, changes, demand, debounce):
    bms = make(**changes)
    need_s = getattr(bms.cfg, debounce)
    dt = 0.5
    steps_to_trip = math.ceil(need_s / dt - 1e-9)
    for seq in range(1, steps_to_trip):
        assert bms.step(seq, dt, 0, demand) == [], f"tripped early, step {seq}"
        assert bms.contactor
    latched = bms.step(steps_to_trip, dt, 0, demand)
    assert [f for f, _, _ in latched] == [flag]
    assert bms.fault_flags == flag and not bms.contactor
    assert bms.allowed_discharge_a == bms.allowed_charge_a == 0.0
    # Latched: the condition goes away (contactor open, no current) but the flag stays; no new FAULT.
    assert bms.step(steps_to_trip + 1, dt, 0, demand) == []
    assert bms.pack.current_a == 0.0 and bms.fault_flags == flag
    bms.clear_faults()  # RESET 1
    assert bms.fault_flags == 0 and bms.contactor


def test_a_condition_that_clears_restarts_its_debounce():
    bms = make(soc_true=0.03, soc_weak_true=0.03)
    for seq in range(1, 4):
        assert bms.step(seq, 0.5, 0, 30.0) == []  # 1.5 s under the limit
    bms.step(4, 0.5, 0, 0.0)                     # recovers at rest: timer back to 0
    for seq in range(5, 8):
        assert bms.step(seq, 0.5, 0, 30.0) == []  # another 1.5 s: still under 2 s in a row
    assert bms.step(8, 0.5, 0, 30.0)[0][0] == FaultFlag.UNDERVOLTAGE


def test_fault_names_the_group_and_value():
    bms = make(soc_true=0.5, soc_weak_true=0.02, debounce_voltage_s=0.0)
    (flag, group, value), = bms.step(1, 1.0, 0, 30.0)
    assert flag == FaultFlag.UNDERVOLTAGE and group == 1 and value == pytest.approx(bms.pack.v_w)


def test_empty_latches_at_once():
    bms = make(soc_true=0.5, soc_weak_true=0.001, cell_uv_v=0.5, derate_window_v=0.01)
    latched = bms.step(1, 10.0, 0, 20.0)  # drains 0.0035 of the weakest group
    assert latched == [(FaultFlag.EMPTY, 1, pytest.approx(bms.pack.soc_w))] and bms.pack.soc_w < 0
    assert not bms.contactor


def test_discharge_derating_is_linear_and_reaches_zero_at_the_limit():
    curve = OcvCurve(NMC.ocv_mv)
    soc = 0.3
    ocv = curve.ocv(soc)
    for frac in (1.5, 1.0, 0.5, 0.0, -0.5):
        bms = make(soc_true=soc, soc_weak_true=soc, cell_uv_v=ocv - frac * SMALL.derate_window_v)
        assert bms.allowed_discharge_a == pytest.approx(SMALL.max_discharge_a * min(1.0, max(0.0, frac)), abs=1e-9)
    # Under load the ohmic drop of the step is added back: the limit does not chase the load.
    uv = ocv - 0.5 * SMALL.derate_window_v
    bms = make(soc_true=soc, soc_weak_true=soc, cell_uv_v=uv, tau1_s=1e6)  # RC branch barely charges
    bms.step(1, 1.0, 0, 30.0)
    p = bms.pack
    assert p.v_w < uv  # loaded below the limit, yet...
    no_load_v = curve.ocv(p.soc_w) - p.vrc_w
    assert bms.allowed_discharge_a == pytest.approx(SMALL.max_discharge_a * (no_load_v - uv) / SMALL.derate_window_v)
    assert bms.allowed_discharge_a > 0.4 * SMALL.max_discharge_a


def test_charge_and_temperature_derating():
    curve = OcvCurve(NMC.ocv_mv)
    ocv = curve.ocv(0.9)
    bms = make(soc_true=0.9, soc_weak_true=0.9, cell_ov_v=ocv + 0.25 * SMALL.derate_window_v)
    assert bms.allowed_charge_a == pytest.approx(SMALL.max_charge_a * 0.25, abs=1e-9)
    mid = (SMALL.temp_derate_c + SMALL.temp_max_c) / 2
    hot = make(temperature_c=mid)
    assert hot.allowed_discharge_a == pytest.approx(SMALL.max_discharge_a / 2)
    assert hot.allowed_charge_a == pytest.approx(SMALL.max_charge_a / 2)
    at_limit = make(temperature_c=SMALL.temp_max_c)
    assert at_limit.allowed_discharge_a == 0.0 == at_limit.allowed_charge_a


def test_single_group_pack():
    bms = make(series=1, capacity_spread=0.0)
    bms.step(1, 10.0, 0, 7.0)
    p = bms.pack
    assert p.pack_voltage_v == p.v_w and p.soc_true == p.soc_w
    assert p.cell_min()[0] == p.cell_max()[0] == p.v_w


def test_reset_and_stop():
    bms = make()
    for seq in range(1, 11):
        bms.step(seq, 1.0, 0, 10.0)
    bms.stop()
    assert not bms.contactor and bms.allowed_discharge_a == 0.0
    soc = bms.pack.soc_t
    bms.step(11, 1.0, 0, 10.0)
    assert bms.pack.current_a == 0.0 and bms.pack.soc_t == soc and bms.step_count == 11
    bms.reset()
    assert (bms.last_seq, bms.step_count, bms.energy_out_wh, bms.pack.soc_t, bms.pack.vrc_t) == (0, 0, 0.0, 0.6, 0.0)
    assert bms.contactor
