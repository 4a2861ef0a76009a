"""Design studies against `kei solve` (real HiGHS, real worker processes, a real local Ray):
every study point is what a fresh solve of its inputs gives; a sweep across the screening boundary
is not a stale model; a killed study resumes to the same file; the same seed gives the same file on
every executor."""
import json
import math
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from conftest import ROOT, run_kei

import kei
from kei.errors import InfeasibleError
from kei.optimizer import studies
from kei.optimizer.prepare.model_data import clear_fit_cache
from kei.optimizer.studies.overrides import Override
from kei.optimizer.studies.sources import PointInputs, record_inputs
from kei.optimizer.studies.uncertain import load_uncertain_inputs

PROBLEM = "us_kei_15k"
REL = 1e-9


def _direct(overrides):
    """kei.solve of the problem with `overrides`, fresh (no fit cache): the reference every point must equal."""
    clear_fit_cache()
    with PointInputs(record_inputs(PROBLEM)).serve(tuple(overrides)) as (problem, _):
        try:
            return kei.solve(problem)
        except InfeasibleError as err:
            return err


def _parts(x) -> tuple:
    return (x["cell"], x["series"], x["parallel"], x["motor"], x["body"])


def _solution_parts(best) -> tuple:
    return (best.cell.id, best.series, best.parallel, best.motor.id, best.body.id)


def test_pareto_front_matches_kei_solve_at_each_of_its_caps():
    front = studies.pareto(PROBLEM, executor="serial", max_points=12)
    points = front.summary["points"]
    assert len(points) >= 7 and all(p["status"] == "optimal" for p in points)
    ranges = [p["verified_range_km"] for p in points]
    assert ranges == sorted(ranges), "a higher cap never buys less range"
    assert len({p["motor"] for p in points}) >= 2, "the front reaches the motor change near $20,700"
    for p in points:
        sol = kei.solve(PROBLEM, price_cap_usd=p["x"])
        assert p["verified_range_km"] == pytest.approx(sol.best.verified_range_km, rel=REL)
        assert p["price_usd"] == pytest.approx(sol.best.price_usd, rel=REL) and p["price_usd"] <= p["x"] + 1e-6
        assert _parts(p) == _solution_parts(sol.best)
    # and as a user checks it, on the command line, at the lowest and a middle cap
    for p in (points[0], points[len(points) // 2]):
        out = run_kei("solve", PROBLEM, "--price-cap", repr(p["x"]), "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["verified_range_km"] == pytest.approx(p["verified_range_km"], abs=1e-3)


def _stale_range(build_cap: float, cap: float) -> float:
    """The trap: a model screened and built for one cap, with only its price row raised."""
    from kei.optimizer.answers.design import decode, evaluate
    from kei.optimizer.milp import build_model
    from kei.optimizer.prepare.model_data import prepare
    from kei.optimizer.solving.ratio import maximize_ratio
    from kei.optimizer.solving.solver import Solver, load_solver_settings
    from kei.vehicle.cycles import load_cycle
    from kei.vehicle.files import load_model_defaults

    problem = kei.load_problem(PROBLEM)
    settings = load_solver_settings()
    data = prepare(kei.optimizer.load_catalog(), problem, load_cycle(problem.cycle), load_model_defaults(), settings,
                   price_cap_usd=build_cap)
    model = build_model(data)
    model.price_cap.set_value(model.price_usd <= cap)
    maximize_ratio(model, Solver(model, settings), settings, d_min=1.0)
    return evaluate(data, decode(model, data)).range_km


def test_a_sweep_across_the_screening_boundary_gives_what_separate_solves_give():
    sweep = studies.sweep(PROBLEM, vary="problem.price_cap_usd=15000:22000:1000", executor="pool", workers=2)
    rows = sweep.summary["points"]
    assert [r["values"][0] for r in rows] == [15000.0 + 1000 * k for k in range(8)]
    statuses = [r["status"] for r in rows]
    assert "infeasible" in statuses and "optimal" in statuses          # it crosses the boundary
    for r in rows:
        direct = _direct([Override("problem.price_cap_usd", "=", r["values"][0])])
        if isinstance(direct, InfeasibleError):
            assert r["status"] == "infeasible"
            assert r["floor_price_usd"] == pytest.approx(direct.details["cheapest_price_usd"], rel=REL)
        else:
            assert r["status"] == "optimal"
            assert r["range_km"] == pytest.approx(direct.best.verified_range_km, rel=REL)
    # A sweep that raised the cap on the model built at $19,000 would report far less at $22,000:
    at_22k = next(r for r in rows if r["values"][0] == 22000.0)["range_km"]
    assert _stale_range(19000.0, 22000.0) < at_22k - 50.0


def _rows(path):
    return path.read_text().splitlines()


def test_a_killed_study_resumes_to_the_same_file(tmp_path):
    samples, kill_at_lines = 60, 12   # killed once its file has 12 lines (a header, then a row per sample)
    args = ["study", "montecarlo", PROBLEM, "--samples", str(samples), "--seed", "4", "--no-progress"]
    killed = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "kei", *args, "--executor", "serial", "--out", str(killed)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not killed.exists() or len(_rows(killed)) < kill_at_lines):
        assert proc.poll() is None, "the study finished before it could be killed; give it more samples"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(_rows(killed)) - 1
    assert kill_at_lines - 1 <= done < samples
    with killed.open("a") as f:            # a row cut in half by the kill is dropped on resume
        f.write(f'{{"i": {samples - 1}, "question": "verd')
    out = run_kei("study", "resume", killed, "--no-progress", "--json", timeout=300)
    assert out.returncode == 0, out.stderr
    resumed = json.loads(out.stdout)
    assert resumed["solved_this_run"] == samples - done
    straight = tmp_path / "straight.jsonl"
    out = run_kei(*args, "--out", straight, timeout=300)
    assert out.returncode == 0, out.stderr
    assert killed.read_bytes() == straight.read_bytes()
    again = run_kei("study", "resume", straight, "--json", "--no-progress")      # a complete study only re-summarizes
    assert json.loads(again.stdout)["solved_this_run"] == 0
    assert json.loads(again.stdout)["probability"] == resumed["probability"]


def test_the_same_seed_gives_identical_files_on_the_pool_and_on_ray(tmp_path):
    pytest.importorskip("ray", reason="the Ray executor is the optional extra: pip install 'kei[ray]' (.ci/run does)")
    args = ["study", "montecarlo", PROBLEM, "--samples", "24", "--seed", "11", "--no-progress",
            "--set", "catalog.bodies.*.cost_usd*=0.88"]   # a cheaper glider: some samples have a design at the cap
    files = {}
    for executor in ("pool", "ray", "serial"):
        files[executor] = tmp_path / f"{executor}.jsonl"
        out = run_kei(*args, "--executor", executor, "--workers", "2" if executor != "serial" else "1",
                      "--out", files[executor], "--json", timeout=600)
        assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert 0 < summary["feasible_samples"] < 24
    assert files["pool"].read_bytes() == files["ray"].read_bytes() == files["serial"].read_bytes()


def test_the_verdict_fast_path_is_what_kei_solve_says():
    """Monte Carlo answers each sample with the floor (exhaustive search over the screened model) and
    solves at the cap only where the floor is under it: the same verdicts, floors and best designs as
    kei.solve, and the same as the floor found by the MILP."""
    fixed = ("catalog.bodies.*.cost_usd*=0.88",)
    mc = studies.montecarlo(PROBLEM, samples=12, seed=3, overrides=fixed, executor="serial")
    milp = studies.montecarlo(PROBLEM, samples=12, seed=3, overrides=fixed, executor="serial", floor_engine="milp")
    assert 0 < mc.summary["feasible_samples"] < 12
    for row, other in zip(mc.rows, milp.rows):
        r = row["result"]
        assert r["feasible"] == other["result"]["feasible"]
        assert r["floor_price_usd"] == pytest.approx(other["result"]["floor_price_usd"], rel=1e-7)
        direct = _direct([Override.from_row(o) for o in row["set"]])
        if r["feasible"]:
            assert r["best"]["verified_range_km"] == pytest.approx(direct.best.verified_range_km, rel=REL)
            assert _parts(r["best"]) == _solution_parts(direct.best)
        else:
            assert isinstance(direct, InfeasibleError)
            assert r["floor_price_usd"] == pytest.approx(direct.details["cheapest_price_usd"], rel=1e-7)
            assert r["floor_design"]["motor"] == direct.details["cheapest_parts"]["motor"]


def test_breakeven_brackets_the_glider_cost_at_which_15000_becomes_feasible():
    be = studies.breakeven(PROBLEM, vary="catalog.bodies.*.cost_usd*=0.5:1.0", tol=0.002, executor="serial")
    s = be.summary
    assert s["found"] and s["met_at_low_end"] and not s["met_at_high_end"]
    lo, hi = s["bracket"]
    assert hi - lo <= 0.002
    below = _direct([Override("catalog.bodies.*.cost_usd", "*=", lo)])
    above = _direct([Override("catalog.bodies.*.cost_usd", "*=", hi)])
    assert below.best.price_usd <= 15000.0 + 1e-6
    assert isinstance(above, InfeasibleError) and above.details["cheapest_price_usd"] > 15000.0
    assert s["low_side"]["best"]["verified_range_km"] == pytest.approx(below.best.verified_range_km, rel=REL)


def test_tornado_sorts_by_swing_and_each_bar_is_a_fresh_solve():
    chosen = tuple(x for x in load_uncertain_inputs() if x.name in ("glider cost", "retail price equivalent",
                                                                     "drag coefficient", "tariff on Mexican content"))
    bars = studies.tornado(PROBLEM, inputs=chosen, executor="serial").summary
    assert bars["metric"] == "floor" and not bars["base_feasible"]
    assert bars["base_value"] == pytest.approx(_direct([]).details["cheapest_price_usd"], rel=1e-7)
    swings = [b["swing"] for b in bars["bars"]]
    assert swings == sorted(swings, reverse=True) and swings[-1] == 0.0     # drag does not move a price
    glider = next(b for b in bars["bars"] if b["name"] == "glider cost")
    low = _direct([chosen[0].override(chosen[0].low)])
    assert glider["value_at_low"] == pytest.approx(low.details["cheapest_price_usd"], rel=1e-7)


def test_model_default_overrides_never_meet_stale_energy_fits():
    """Energy fits are cached by catalog and problem, not by the model defaults: a point that changes
    a default must not reuse the fits of the point before it (nor leave its own to the next)."""
    sweep = studies.sweep(PROBLEM, vary="defaults.auxiliary.power_w=300:500:200", executor="serial",
                          overrides=("problem.price_cap_usd=20000",))
    (base, heavy) = sweep.summary["points"]
    for r, row in zip((base, heavy), sweep.rows):
        direct = _direct([Override("problem.price_cap_usd", "=", 20000.0),
                          Override("defaults.auxiliary.power_w", "=", r["values"][0])])
        assert r["range_km"] == pytest.approx(direct.best.verified_range_km, rel=REL)
        # the model's own prediction too: stale fits would be corrected towards the simulation, not equal
        assert row["result"]["range_km"] == pytest.approx(direct.best.range_km, rel=REL)
    assert heavy["range_km"] < base["range_km"] - 5.0


def test_cli_json_plot_table_and_errors(tmp_path):
    out = run_kei("study", "sweep", PROBLEM, "--set", "price.sites.MX.vehicle_duty_rate=0:0.25:0.125", "--metric", "floor",
                  "--json", "--plot", tmp_path / "s.png", "--out", tmp_path / "s.jsonl", "--executor", "serial")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    floors = [p["floor_price_usd"] for p in data["points"]]
    assert len(floors) == 3 and floors == sorted(floors) and floors[0] < floors[-1]
    assert (tmp_path / "s.png").stat().st_size > 10000
    text = run_kei("study", "tornado", PROBLEM, "--out", tmp_path / "t.jsonl", "--plot", tmp_path / "t.png",
                   "--executor", "serial")
    assert text.returncode == 0, text.stderr
    assert "swing" in text.stdout and "glider cost" in text.stdout and (tmp_path / "t.png").exists()
    # a key that names nothing: usage (2), naming the key
    bad = run_kei("study", "sweep", PROBLEM, "--set", "catalog.cells.nope.cost_usd_per_kwh=1:2:1",
                  "--out", tmp_path / "b.jsonl", "--executor", "serial")
    assert bad.returncode == 2 and "catalog.cells.nope" in bad.stderr
    assert not (tmp_path / "b.jsonl").exists(), "a study that failed before its first point leaves no file"
    # a value its loader rejects: bad config (3), naming the file, the key and the override
    bad = run_kei("study", "montecarlo", PROBLEM, "--samples", "2", "--out", tmp_path / "c.jsonl",
                  "--set", "catalog.cells.panasonic_2170_us.capacity_ah=-3", "--executor", "serial")
    assert bad.returncode == 3
    assert "cells.toml: cell[panasonic_2170_us].capacity_ah" in bad.stderr and "capacity_ah=-3" in bad.stderr
    again = run_kei("study", "sweep", PROBLEM, "--set", "problem.price_cap_usd=15000:16000:1000",
                    "--out", tmp_path / "s.jsonl")
    assert again.returncode == 2 and "kei study resume" in again.stderr
    for wrong in (("--address", "auto"), ("--executor", "dask")):
        out = run_kei("study", "tornado", PROBLEM, *wrong, "--out", tmp_path / "w.jsonl")
        assert out.returncode == 2 and not (tmp_path / "w.jsonl").exists()


def test_montecarlo_reports_a_probability_with_its_interval():
    mc = studies.montecarlo(PROBLEM, samples=100, seed=1, executor="pool", workers=2)
    s = mc.summary
    lo, hi = s["interval"]
    # With the price calibration's residual band (RPE x 0.767-1.358) about one sample in ten has a design.
    assert lo <= s["probability"] <= hi and 0.02 < s["probability"] < 0.3
    assert s["floor_price_usd"]["p5"] < 17135.6 < s["floor_price_usd"]["p95"]
    assert math.isclose(sum(s["floor_parts"].values()), 100)
    assert s["convergence"][-1]["samples"] == 100


def test_a_min_price_problem_has_its_front_over_the_range_and_its_monte_carlo_over_the_price():
    front = studies.pareto("us_kei_150km", executor="serial", max_points=6).summary
    assert front["axis"] == "problem.min_range_km" and len(front["points"]) == 6
    prices = [p["price_usd"] for p in front["points"]]
    assert prices == sorted(prices), "a longer range never costs less"
    for p in front["points"][::2]:
        sol = kei.solve(replace(kei.load_problem("us_kei_150km"), min_range_km=p["x"], price_cap_usd=1e7))
        assert p["price_usd"] == pytest.approx(sol.best.price_usd, rel=REL)
    mc = studies.montecarlo("us_kei_150km", samples=6, seed=2, executor="serial").summary
    assert mc["question"] == "solve" and mc["samples"] == 6
    assert mc["price_usd"]["n"] == mc["feasible_samples"] > 0     # the price of the samples with a design under $20,000


def test_a_two_key_sweep_is_a_grid_and_draws_a_heat_map(tmp_path):
    grid = studies.sweep(PROBLEM, vary=["catalog.bodies.*.cost_usd*=0.8:0.9:0.1", "price.retail_price_equivalent*=0.9:1.0:0.1"],
                         metric="floor", executor="serial")
    from kei.optimizer.studies.plots import plot_study

    assert grid.summary["shape"] == [2, 2]
    floors = {tuple(p["values"]): p["value"] for p in grid.summary["points"]}
    assert floors[(0.8, 0.9)] < floors[(0.8, 1.0)] < floors[(0.9, 1.0)]
    plot_study(grid, str(tmp_path / "grid.png"))
    assert (tmp_path / "grid.png").stat().st_size > 10000
