"""The hold-out set (configs/holdout/): EPA BEV test cars the model was never fitted on. Each record
becomes a vehicle tested at its own ETW with its own coastdown, none is a calibration car's record,
a malformed row is refused with its line and column named, and the band's residual found on the set
is the smallest that holds what it is asked to."""
import math

import pytest

from kei.errors import ConfigError
from kei.units import KG_PER_LB
from kei.vehicle.calibrate import load_calibration
from kei.vehicle.cycles import load_cycle
from kei.vehicle.energy import simulate
from kei.vehicle.files import coastdown_from_epa, load_model_defaults
from kei.vehicle.holdout import (
    COLUMNS,
    band_coverage,
    evaluate,
    load_records,
    load_rules,
    residual_for_coverage,
    summarize,
    vehicle_from_record,
)
from kei.vehicle.uncertainty import load_uncertainty


@pytest.fixture(scope="module")
def records():
    return load_records()


def test_no_record_is_a_calibration_cars_own(records):
    rules = load_rules()
    ids = set(rules["extract"]["calibration_test_vehicle_ids"])
    assert len(records) > 400
    assert not ids & {r["test_vehicle_id"] for r in records}
    # and the rule's list names every EPA calibration car's record (the `data` line of calibration.toml)
    epa_cars = [c for c in load_calibration() if c.epa_test_weight_lb is not None]
    for car in epa_cars:
        assert any(i in car.data for i in ids), f"{car.name}: its Test Car List record is not in the exclusion list"


def test_each_record_is_tested_at_its_own_weight_and_coastdown(records):
    """Above 5,500 lb the EPA rule's ETW table would cap the test weight: the record's ETW holds."""
    rules, defaults = load_rules(), load_model_defaults()
    heavy = [r for r in records if r["etw_lb"] > 5500][:3]
    light = [r for r in records if r["etw_lb"] <= 4000][:3]
    assert heavy and light
    for rec in heavy + light:
        v = vehicle_from_record(rec, rules, defaults)
        r = simulate(v, load_cycle("epa_city"))
        assert r.test_mass_kg == pytest.approx(rec["etw_lb"] * KG_PER_LB, abs=1e-6)
        f = coastdown_from_epa(rec["target_a_lbf"], rec["target_b_lbf_per_mph"], rec["target_c_lbf_per_mph2"])
        assert (v.road_load.f0_n, v.road_load.f1_n_per_mps, v.road_load.f2_n_per_mps2) == pytest.approx(f)


def test_a_heavier_coastdown_costs_energy_and_the_band_holds_the_model(records):
    rules, defaults = load_rules(), load_model_defaults()
    rec = next(r for r in records if r["drive"] in rules["report"]["two_wheel_drive_codes"])
    draggy = {**rec, "target_c_lbf_per_mph2": 1.5 * rec["target_c_lbf_per_mph2"]}
    base, more = evaluate([rec, draggy], rules, defaults)
    assert base.valid and more.valid
    assert more.model["hwfet"] < base.model["hwfet"] and more.model["udds"] < base.model["udds"]
    for row in (base, more):
        for c in ("udds", "hwfet"):
            lo, hi = row.band[c]
            assert lo < row.model[c] < hi
    s = summarize([base, more], error_within=0.10, split_within=0.05)
    assert s["n"] == 2 and 0.0 <= s["udds"]["band_coverage"] <= 1.0
    assert math.isfinite(s["split"]["mean"])


def test_the_residual_found_is_the_smallest_that_holds_the_target(records):
    rules, defaults, u = load_rules(), load_model_defaults(), load_uncertainty()
    rows = evaluate(records[:8], rules, defaults)
    resolution = 0.01
    with_residual = lambda h: band_coverage(rows, u.with_input("calibration_residual", h))  # noqa: E731
    assert with_residual(0.0) < 0.85 < 0.95 < with_residual(0.3)   # these cars: the residual widens the band
    found = {}
    for target in (0.85, 0.95):
        h = found[target] = residual_for_coverage(rows, u, target, resolution=resolution)
        assert 0.0 < h < 0.5
        assert with_residual(h) >= target > with_residual(h - resolution)
    assert found[0.95] > found[0.85]
    assert residual_for_coverage(rows, u, with_residual(0.0)) == 0.0   # already held without one


def test_a_record_outside_the_vehicle_files_ranges_is_reported_not_run(records):
    rules, defaults = load_rules(), load_model_defaults()
    huge = {**records[0], "rated_power_hp": 5000.0}
    (row,) = evaluate([huge], rules, defaults)
    assert not row.valid and "motor.peak_power_kw" in row.not_run
    assert summarize([row], error_within=0.10, split_within=0.05)["n"] == 0


def _csv(tmp_path, rows):
    path = tmp_path / "cars.csv"
    path.write_text("# a comment line\n" + ",".join(COLUMNS) + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def test_a_malformed_row_names_its_line_and_column(tmp_path, records):
    good = [str(records[0][c]) for c in COLUMNS]
    assert load_records(_csv(tmp_path, [good]))[0] == records[0]
    bad = list(good)
    bad[list(COLUMNS).index("etw_lb")] = "4,000"   # a thousands comma: one cell too many
    with pytest.raises(ConfigError, match=r"line 4: 19 cells, the header has 18"):
        load_records(_csv(tmp_path, [good, bad]))
    bad = list(good)
    bad[list(COLUMNS).index("hwfet_mpge_unadjusted")] = "n/a"
    with pytest.raises(ConfigError, match=r"line 4, column hwfet_mpge_unadjusted"):
        load_records(_csv(tmp_path, [good, bad]))
    with pytest.raises(ConfigError, match="missing column"):
        (tmp_path / "short.csv").write_text("test_vehicle_id,make\nX,Y\n")
        load_records(tmp_path / "short.csv")
