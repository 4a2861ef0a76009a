"""The drive-cycle library against the published figures, user CSV files and the US label rule."""
import numpy as np
import pytest

from kei.errors import CycleError
from kei.units import KMH_PER_MPS
from kei.vehicle.cycles import cycle_names, load_cycle, read_cycle_csv
from kei.vehicle.energy import params_from_vehicle, run_trace, simulate
from kei.vehicle.files import load_vehicle

# name: (distance km, duration s, max speed km/h) as published. Sources: EPA dynamometer driving
# schedules (UDDS 7.45 mi / 1369 s / 56.7 mph, HWFET 10.26 mi / 765 s / 59.9 mph, US06 8.01 mi /
# 80.3 mph), UN GTR No. 15 (WLTC classes), UN ECE R101 (NEDC), and the Japanese WLTC mode
# (class 3 without Extra-high, 1477 s, 15.01 km). NEDC's 1180 s counts its 1 Hz samples (0-1179).
PUBLISHED = {
    "udds": (11.99, 1369, 91.2),
    "hwfet": (16.51, 765, 96.4),
    "us06": (12.89, 600, 129.2),
    "wltc_3b": (23.27, 1800, 131.3),
    "wltc_3a": (23.19, 1800, 131.3),
    "wltc_2": (22.65, 1800, 123.1),
    "wltc_1": (11.43, 1611, 64.4),
    "nedc_trace": (11.01, 1179, 120.0),
    "nedc": (11.01, 1179, 120.0),
    "epa_city": (11.99, 1369, 91.2),
    "epa_highway": (16.51, 765, 96.4),
    "wltp": (23.27, 1800, 131.3),
    "wltc_jp": (15.01, 1477, 97.4),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_bundled_cycle_matches_published_figures(name):
    distance_km, duration_s, max_kmh = PUBLISHED[name]
    cycle = load_cycle(name)
    assert cycle.distance_km == pytest.approx(distance_km, abs=0.005)
    assert cycle.duration_s == duration_s
    assert cycle.max_speed_kmh == pytest.approx(max_kmh, abs=0.1)
    assert np.all(np.diff(cycle.time_s) == 1.0)  # bundled traces are 1 Hz
    assert cycle.speed_mps[0] == 0 and cycle.speed_mps[-1] == 0
    assert cycle.source


def test_every_cycle_name_loads_and_the_table_is_complete():
    assert set(cycle_names()) == set(PUBLISHED) | {"epa_combined"}
    assert {"epa_city", "epa_highway", "epa_combined", "wltp", "wltc_jp", "nedc"} <= set(cycle_names())


def test_wltc_jp_is_wltc_3b_without_extra_high():
    jp, full = load_cycle("wltc_jp"), load_cycle("wltc_3b")
    n = len(jp.time_s)
    assert n == 1478
    assert np.array_equal(jp.speed_mps, full.speed_mps[:n])


def test_epa_combined_follows_the_label_rule(sakura_path):
    v = load_vehicle(sakura_path)
    combined = simulate(v, load_cycle("epa_combined"))
    city, highway = simulate(v, load_cycle("epa_city")), simulate(v, load_cycle("epa_highway"))
    # 55/45 on energy per distance...
    assert combined.energy_wh_per_km == pytest.approx(0.55 * city.energy_wh_per_km + 0.45 * highway.energy_wh_per_km,
                                                      rel=1e-12)
    # ...which is the harmonic mean of the unadjusted ranges, then x 0.7.
    assert combined.range_km == pytest.approx(1 / (0.55 / city.range_km + 0.45 / highway.range_km), rel=1e-12)
    assert city.range_km == pytest.approx(0.7 * city.trace_range_km, rel=1e-12)
    assert combined.range_km == pytest.approx(0.7 * v.battery.usable_energy_wh / combined.energy_wh_per_km, rel=0.01)
    assert combined.distance_km == pytest.approx(city.distance_km + highway.distance_km, rel=1e-12)


# ---- user CSV files ----------------------------------------------------------------------------
def write(tmp_path, text, name="trace.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,row,words", [
    ("time,speed_mps\n0,0\n1,10\n", 1, "missing column 'time_s'"),
    ("time_s,velocity\n0,0\n1,10\n", 1, "missing column 'speed_mps' or 'speed_kmh'"),
    ("time_s,speed_mps\n0,0\n1,nan\n2,0\n", 3, "NaN"),
    ("time_s,speed_mps\n0,0\n1,inf\n2,0\n", 3, "infinite"),
    ("time_s,speed_mps\n0,0\n1,3\n2,-0.5\n", 4, "negative speed"),
    ("time_s,speed_mps\n0,0\n2,3\n1,4\n", 4, "does not increase"),
    ("time_s,speed_mps\n0,0\n1,3\n1,4\n", 4, "does not increase"),
    ("time_s,speed_mps\n0,0\n1,fast\n", 3, "not a number"),
    ("time_s,speed_mps,grade_percent\n0,0,0\n1,3\n", 3, "missing field"),
    ("time_s,speed_mps\n0,0\n", None, "at least two samples"),
    ("", None, "empty file"),
])
def test_bad_csv_names_file_and_row(tmp_path, text, row, words):
    path = write(tmp_path, text)
    with pytest.raises(CycleError) as err:
        load_cycle(str(path))
    assert err.value.file == str(path) and err.value.row == row
    assert words in str(err.value) and "trace.csv" in str(err.value)
    if row is not None:
        assert f"row {row}" in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CycleError, match="nope.csv.*file not found"):
        load_cycle(str(tmp_path / "nope.csv"))


def test_speed_kmh_equals_speed_mps(tmp_path):
    kmh = read_cycle_csv(write(tmp_path, "time_s,speed_kmh\n0,0\n1,3.6\n3,36\n8,0\n", "a.csv"))
    mps = read_cycle_csv(write(tmp_path, "time_s,speed_mps\n0,0\n1,1\n3,10\n8,0\n", "b.csv"))
    assert np.allclose(kmh.speed_mps, mps.speed_mps, rtol=1e-15)
    assert kmh.max_speed_kmh == pytest.approx(36.0)


def test_columns_in_any_order_with_grade_and_blank_lines(tmp_path):
    cycle = load_cycle(str(write(tmp_path, "grade_percent, speed_mps ,time_s\n2.5,0,0\n\n-1,5,1.5\n0,0,4\n")))
    assert cycle.time_s.tolist() == [0.0, 1.5, 4.0]
    assert cycle.speed_mps.tolist() == [0.0, 5.0, 0.0]
    assert cycle.grade_percent.tolist() == [2.5, -1.0, 0.0]
    assert cycle.name == "trace"


def test_uneven_time_steps_integrate_exactly(tmp_path, sakura_path):
    """Ramp 0 -> 20 m/s at 2 m/s2, cruise 30 s, ramp down: distance, kinetic energy and cruise drag
    do not depend on where the samples fall (piecewise-linear speed, constant speed while cruising)."""
    t_even = np.array([0.0, 10.0, 40.0, 50.0])
    v_even = np.array([0.0, 20.0, 20.0, 0.0])
    t_uneven = np.array([0.0, 0.3, 1.0, 4.7, 10.0, 11.1, 17.0, 39.5, 40.0, 42.25, 50.0])
    v_uneven = np.interp(t_uneven, t_even, v_even)
    rows = "\n".join(f"{t!r},{v!r}" for t, v in zip(t_uneven.tolist(), v_uneven.tolist()))
    cycle = load_cycle(str(write(tmp_path, "time_s,speed_mps\n" + rows + "\n")))
    expected_m = 0.5 * 10 * 20 + 30 * 20 + 0.5 * 10 * 20
    assert cycle.distance_m == pytest.approx(expected_m, rel=1e-12)
    assert cycle.duration_s == 50.0
    assert cycle.mean_speed_kmh == pytest.approx(expected_m / 50 * KMH_PER_MPS)

    v = load_vehicle(sakura_path)
    p = params_from_vehicle(v)
    steps = run_trace(p, cycle.time_s, cycle.speed_mps, cycle.grade_percent)
    energy_j = {k: steps[k] * steps["dt_s"] for k in ("inertia_w", "aero_w")}
    end_s = cycle.time_s[1:]
    up, cruise = end_s <= 10.0, (end_s > 10.0) & (end_s <= 40.0)
    kinetic_j = 0.5 * p.mass_kg * v.driveline.rotating_mass_factor * 20.0**2
    assert energy_j["inertia_w"][up].sum() == pytest.approx(kinetic_j, rel=1e-12)
    assert energy_j["inertia_w"].sum() == pytest.approx(0.0, abs=1e-6)  # nets to zero, start to stop
    drag_j = 0.5 * v.environment.air_density_kg_m3 * p.drag_area_m2 * 20.0**3 * 30
    assert energy_j["aero_w"][cruise].sum() == pytest.approx(drag_j, rel=1e-12)
