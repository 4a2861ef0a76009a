"""`kei simulate` and `kei cycles` as a user runs them."""
import json

from conftest import run_kei

REQUIRED_KEYS = {"cycle", "duration_s", "distance_km", "energy_wh_per_km", "range_km", "trace_miss_s",
                 "max_battery_power_kw"}


def test_simulate_json(sakura_path):
    out = run_kei("simulate", sakura_path, "--cycle", "udds", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert REQUIRED_KEYS <= set(data)
    assert data["cycle"] == "udds"
    assert abs(data["distance_km"] - 11.99) < 0.01


def test_simulate_plot_and_text(sakura_path, tmp_path):
    png = tmp_path / "run.png"
    out = run_kei("simulate", sakura_path, "--cycle", "wltc_3b", "--plot", png)
    assert out.returncode == 0, out.stderr
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    # The Sakura is governed at 130 km/h; WLTC 3b peaks at 131.3 km/h: the miss must be reported.
    assert "TRACE MISSED" in out.stdout


def test_bad_inputs_exit_nonzero_with_named_cause(sakura_path, tmp_path):
    out = run_kei("simulate", sakura_path, "--cycle", "nonexistent_cycle")
    assert out.returncode == 3 and "unknown cycle" in out.stderr
    csv = tmp_path / "trace.csv"
    csv.write_text("time_s,speed_kmh\n0,0\n1,10\n1,20\n")
    out = run_kei("simulate", sakura_path, "--cycle", csv)
    assert out.returncode == 3 and "row 4" in out.stderr and "trace.csv" in out.stderr
    car = tmp_path / "car.toml"
    car.write_text(sakura_path.read_text().replace("[motor]", "[motor]\npeak_powr_kw = 1"))
    out = run_kei("simulate", car)
    assert out.returncode == 3 and "motor.peak_powr_kw" in out.stderr


def test_cycles_json_lists_all():
    out = run_kei("cycles", "--json")
    names = {row["name"] for row in json.loads(out.stdout)}
    assert {"wltc_jp", "epa_combined", "udds", "hwfet"} <= names
