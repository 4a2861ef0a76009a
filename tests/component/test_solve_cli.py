"""`kei solve` as a user runs it: bundled problems, design files `kei simulate` confirms within 1 %,
the JSON contract, --top K, infeasible problems and bad files (exit code 2 with the reason)."""
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT, run_kei

PROBLEMS = ROOT / "configs" / "problems"
JSON_KEYS = {"status", "objective", "range_km", "price_usd", "mass_kg", "cycle", "battery", "motor", "body",
             "dimensions_m", "binding", "solve_seconds"}


def _solve(*args):
    out = run_kei("solve", *args)
    assert out.returncode == 0, out.stderr
    return out


@pytest.mark.parametrize("problem,cycle", [("jp_kei", "wltc_jp"), ("us_kei_150km", "epa_combined")])
def test_design_file_simulates_to_the_reported_range(problem, cycle, tmp_path):
    design = tmp_path / f"{problem}.toml"
    data = json.loads(_solve(PROBLEMS / f"{problem}.toml", "--json", "--out", design).stdout)
    assert JSON_KEYS <= set(data)
    assert data["status"] == "optimal" and data["cycle"] == cycle
    assert {"cell", "series", "parallel", "energy_kwh", "voltage_v"} <= set(data["battery"])
    assert {"id", "peak_power_kw"} <= set(data["motor"]) and "id" in data["body"]
    assert set(data["dimensions_m"]) == {"length", "width", "height"}
    sim = run_kei("simulate", design, "--cycle", cycle, "--json")
    assert sim.returncode == 0, sim.stderr
    simulated = json.loads(sim.stdout)
    assert simulated["range_km"] == pytest.approx(data["range_km"], rel=0.01)
    assert simulated["trace_miss_s"] == 0
    # The file carries what the bench needs: pack layout, the cell, the part ids, the design record.
    text = design.read_text()
    for key in ("series = ", "parallel = ", "[battery.cell]", f'cell_id = "{data["battery"]["cell"]}"',
                f'id = "{data["motor"]["id"]}"', "[design]", "predicted_range_km", "price_usd"):
        assert key in text


def test_top_k_distinct_and_ordered():
    data = json.loads(_solve(PROBLEMS / "eu_quadricycle.toml", "--json", "--top", "3").stdout)
    designs = data["designs"]
    assert len(designs) == 3
    ranges = [d["range_km"] for d in designs]
    assert ranges == sorted(ranges, reverse=True) and ranges[0] == data["range_km"]
    parts = {(d["battery"]["cell"], d["motor"]["id"], d["body"]["id"]) for d in designs}
    assert len(parts) == 3
    for d in designs:  # every alternative is verified too
        assert d["verified_range_km"] == pytest.approx(d["range_km"], rel=0.01)


def test_text_report_names_parts_binding_and_timing():
    text = _solve(PROBLEMS / "jp_kei.toml").stdout
    for needle in ("battery", "motor", "body", "mass", "price build-up", "binding", "solved", "MILPs", "gap"):
        assert needle in text


def _problem_file(tmp_path: Path, **changes) -> Path:
    lines = (PROBLEMS / "us_kei_150km.toml").read_text().splitlines()
    out = []
    for line in lines:
        key = line.split("=")[0].strip()
        if key in changes:
            line = f"{key} = {changes.pop(key)}"
        out.append(line)
    path = tmp_path / "p.toml"
    path.write_text("\n".join(out) + "\n")
    return path


def test_infeasible_problem_exits_4_with_numbers(tmp_path):
    path = _problem_file(tmp_path, price_cap_usd="9000.0", min_range_km="1.0")
    out = run_kei("solve", path)
    assert out.returncode == 4
    assert "the cheapest car that meets the rest costs $" in out.stderr and "against the $9,000 cap" in out.stderr
    out = run_kei("solve", path, "--json")
    assert out.returncode == 4
    data = json.loads(out.stdout)
    assert data["status"] == "infeasible" and data["details"]["cheapest_price_usd"] > 9000.0


def test_headline_over_the_cap_shows_the_design_at_the_floor():
    """us_kei_15k has no design at its cap: the text report still shows what the floor price buys,
    and that design's price is the floor the error names."""
    out = run_kei("solve", PROBLEMS / "us_kei_15k.toml")
    assert out.returncode == 4
    floor = json.loads(run_kei("solve", PROBLEMS / "us_kei_15k.toml", "--json").stdout)["details"]["cheapest_price_usd"]
    assert "The best one at the floor price" in out.stdout
    shown = float(re.search(r"price {10}\$([\d,]+)", out.stdout).group(1).replace(",", ""))
    assert abs(shown - floor) <= 1.0          # the design at the floor, solved at the floor rounded up to a dollar
    assert "the cheapest car that meets the rest costs" in out.stderr


def test_bad_problem_file_exits_3_naming_file_and_key(tmp_path):
    path = _problem_file(tmp_path)
    path.write_text(path.read_text().replace("min_range_km", "min_rnage_km"))
    out = run_kei("solve", path)
    assert out.returncode == 3
    assert f"{path}: min_rnage_km: unknown key (did you mean 'min_range_km'?)" in out.stderr
