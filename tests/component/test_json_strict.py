"""Every --json output is strict JSON (RFC 8259: no NaN, no Infinity); a degenerate figure is a
null whose reason the object states."""
import json

import pytest
from conftest import ROOT

from kei.cli import main
from kei.output import to_json


def strict(text: str):
    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


DOWNHILL = "time_s,speed_mps,grade_percent\n0,0,0\n10,10,-12\n300,10,-12\n310,0,0\n"  # regen beats the load: no finite range


@pytest.mark.parametrize("argv,code", [
    (["cycles", "--json"], 0),
    (["catalog", "--json"], 0),
    (["simulate", "nissan_sakura", "--json"], 0),
    (["simulate", "nissan_sakura", "--cycle", "{tmp}/downhill.csv", "--json"], 0),
    (["solve", "us_kei_150km", "--json"], 0),
    (["solve", "us_kei_15k", "--json"], 4),
    (["hil", "ports", "--json"], 0),
    (["hil", "run", "us_kei_150km", "--emulator", "python", "--max-steps", "50", "--log", "{tmp}/run", "--json"], 0),
])
def test_json_outputs_are_strict(argv, code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "downhill.csv").write_text(DOWNHILL)
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == code
    strict(capsys.readouterr().out)


def test_a_degenerate_figure_is_null_with_its_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "downhill.csv").write_text(DOWNHILL)
    assert main(["simulate", str(ROOT / "configs/vehicles/nissan_sakura.toml"), "--cycle", "downhill.csv", "--json"]) == 0
    out = strict(capsys.readouterr().out)
    nulls = [k for k, v in out.items() if v is None]
    assert "range_km" in nulls and all(k in out["null_reasons"] for k in nulls), out


def test_to_json_names_the_path_of_every_non_finite_number():
    out = json.loads(to_json({"a": float("inf"), "b": [1.0, float("nan")], "c": {"d": -float("inf")}}))
    assert out["a"] is None and out["b"][1] is None and out["c"]["d"] is None
    assert set(out["null_reasons"]) == {"a", "b[1]", "c.d"}
