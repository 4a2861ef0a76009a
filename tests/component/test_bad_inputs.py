"""Ordinary slips, table-driven: each bad input (config, cycle, problem, catalog, CLI option, output
path, port) gets the right exit code, a message naming the file, key or option, and no traceback.

Each case runs the real `kei` entry point in this process (`kei.cli.main`, the function the console
script calls) from a scratch folder, so the table stays fast; the subprocess form is covered by the
other CLI tests and by .ci/run's fresh-venv check.
"""
import codecs
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

from kei.cli import main

SAKURA = ROOT / "configs" / "vehicles" / "nissan_sakura.toml"
PROBLEM = ROOT / "configs" / "problems" / "us_kei_150km.toml"
CATALOG = ROOT / "configs" / "catalog"


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple            # {tmp} is replaced by the scratch folder
    code: int              # expected exit code
    names: tuple           # substrings the message must contain ({tmp} replaced)
    files: tuple = ()      # (relative path, bytes) written into the scratch folder first


def edited(path: Path, old: str, new: str) -> bytes:
    """A bundled file with one slip put in."""
    text = path.read_text()
    assert old in text, old
    return text.replace(old, new, 1).encode()


def sakura_with(old: str, new: str) -> bytes:
    return edited(SAKURA, old, new)


def problem_with(old: str, new: str) -> bytes:
    return edited(PROBLEM, old, new)


TRACE = b"time_s,speed_mps\n0,0\n10,5\n20,10\n30,0\n"   # 150 m in 30 s, at most 1 m/s^2

CASES = [
    # ---- vehicle and design files ---------------------------------------------------------------
    Case("vehicle-missing", ("simulate", "{tmp}/nope.toml"), 3, ("{tmp}/nope.toml", "not found")),
    Case("vehicle-is-a-folder", ("simulate", "{tmp}"), 3, ("{tmp}", "is a folder")),
    Case("vehicle-utf16", ("simulate", "{tmp}/v.toml"), 3, ("v.toml", "UTF-16"),
         (("v.toml", codecs.BOM_UTF16_LE + SAKURA.read_text().encode("utf-16-le")),)),
    Case("vehicle-latin1", ("simulate", "{tmp}/v.toml"), 3, ("v.toml", "not UTF-8", "line"),
         (("v.toml", sakura_with('name = "', 'name = "Caf\xe9 ').decode().encode("latin-1")),)),
    Case("vehicle-toml-syntax", ("simulate", "{tmp}/v.toml"), 3, ("v.toml", "not valid TOML"),
         (("v.toml", sakura_with("[motor]", "[motor")),)),
    Case("vehicle-unknown-key", ("simulate", "{tmp}/v.toml"), 3, ("v.toml", "motor.peak_powr_kw", "did you mean"),
         (("v.toml", sakura_with("peak_power_kw", "peak_powr_kw")),)),
    Case("vehicle-negative-mass", ("simulate", "{tmp}/v.toml"), 3, ("v.toml", "curb_mass_kg"),
         (("v.toml", sakura_with("curb_mass_kg = ", "curb_mass_kg = -")),)),
    Case("vehicle-wrong-type", ("simulate", "{tmp}/v.toml"), 3, ("v.toml", "peak_power_kw"),
         (("v.toml", sakura_with("peak_power_kw = ", 'peak_power_kw = "forty" #')),)),
    Case("vehicle-missing-section", ("simulate", "{tmp}/v.toml"), 3, ("v.toml", "battery", "missing required section"),
         (("v.toml", b'name = "no motor"\n[body]\ncurb_mass_kg = 1000.0\n'),)),
    Case("vehicle-unknown-name", ("simulate", "nissan_sakra"), 3, ("nissan_sakra", "did you mean 'nissan_sakura'")),
    # ---- drive cycles ---------------------------------------------------------------------------
    Case("cycle-unknown-name", ("simulate", str(SAKURA), "--cycle", "wltc_9"), 3, ("wltc_9", "unknown cycle")),
    Case("cycle-no-time-column", ("simulate", str(SAKURA), "--cycle", "{tmp}/c.csv"), 3, ("c.csv", "row 1", "time_s"),
         (("c.csv", b"t,speed_mps\n0,0\n1,1\n"),)),
    Case("cycle-not-a-number", ("simulate", str(SAKURA), "--cycle", "{tmp}/c.csv"), 3, ("c.csv", "row 3"),
         (("c.csv", b"time_s,speed_mps\n0,0\n1,fast\n2,0\n"),)),
    Case("cycle-negative-speed", ("simulate", str(SAKURA), "--cycle", "{tmp}/c.csv"), 3, ("c.csv", "row 3", "negative"),
         (("c.csv", b"time_s,speed_mps\n0,0\n1,-3\n2,0\n"),)),
    Case("cycle-time-goes-back", ("simulate", str(SAKURA), "--cycle", "{tmp}/c.csv"), 3, ("c.csv", "row 4"),
         (("c.csv", b"time_s,speed_mps\n0,0\n2,3\n1,0\n"),)),
    Case("cycle-one-sample", ("simulate", str(SAKURA), "--cycle", "{tmp}/c.csv"), 3, ("c.csv", "two samples"),
         (("c.csv", b"time_s,speed_mps\n0,0\n"),)),
    Case("cycle-kmh-under-mps-header", ("simulate", str(SAKURA), "--cycle", "{tmp}/c.csv"), 3, ("c.csv", "row", "km/h"),
         (("c.csv", b"time_s,speed_mps\n" + b"".join(b"%d,%d\n" % (i, min(4 * i, 100)) for i in range(40)) + b"40,0\n"),)),
    Case("cycle-acceleration-too-high", ("simulate", str(SAKURA), "--cycle", "{tmp}/c.csv"), 3, ("c.csv", "row 4", "m/s^2"),
         (("c.csv", b"time_s,speed_mps\n0,0\n1,2\n2,20\n3,20\n40,0\n"),)),
    Case("cycle-empty", ("simulate", str(SAKURA), "--cycle", "{tmp}/c.csv"), 3, ("c.csv", "empty"),
         (("c.csv", b""),)),
    Case("cycle-utf16", ("simulate", str(SAKURA), "--cycle", "{tmp}/c.csv"), 3, ("c.csv", "UTF-16"),
         (("c.csv", codecs.BOM_UTF16_LE + TRACE.decode().encode("utf-16-le")),)),
    Case("cycle-is-a-folder", ("simulate", str(SAKURA), "--cycle", "{tmp}/d.csv"), 3, ("d.csv", "is a folder"),
         (("d.csv/keep", b""),)),
    Case("cycle-utf8-bom-accepted", ("simulate", str(SAKURA), "--cycle", "{tmp}/c.csv"), 0, (" on c (0.15 km",),
         (("c.csv", codecs.BOM_UTF8 + TRACE),)),
    # ---- problem files --------------------------------------------------------------------------
    Case("problem-missing", ("solve", "{tmp}/p.toml"), 3, ("{tmp}/p.toml", "not found")),
    Case("problem-unknown-name", ("solve", "us_kei_16k"), 3, ("us_kei_16k", "did you mean")),
    Case("problem-unknown-key", ("solve", "{tmp}/p.toml"), 3, ("p.toml", "min_rnage_km", "did you mean 'min_range_km'"),
         (("p.toml", problem_with("min_range_km", "min_rnage_km")),)),
    Case("problem-bad-objective", ("solve", "{tmp}/p.toml"), 3, ("p.toml", "objective"),
         (("p.toml", problem_with('objective = "min_price"', 'objective = "max_fun"')),)),
    Case("problem-min-price-without-range", ("solve", "{tmp}/p.toml"), 3, ("p.toml", "min_range_km"),
         (("p.toml", problem_with("min_range_km = ", "# min_range_km = ")),)),
    Case("problem-unknown-profile", ("solve", "{tmp}/p.toml"), 3, ("p.toml", "regulation.profile", "unknown profile"),
         (("p.toml", problem_with('profile = "us_kei"', 'profile = "us_kie"')),)),
    Case("problem-unknown-price-model", ("solve", "{tmp}/p.toml"), 3, ("p.toml", "price.model"),
         (("p.toml", problem_with('model = "us_2025"', 'model = "us_2035"')),)),
    Case("problem-unknown-cycle", ("solve", "{tmp}/p.toml"), 3, ("p.toml", "cycle"),
         (("p.toml", problem_with('cycle = "epa_combined"', 'cycle = "epa_kombined"')),)),
    Case("problem-infeasible", ("solve", "{tmp}/p.toml"), 4, ("cheapest car that meets the rest costs",),
         (("p.toml", problem_with("price_cap_usd = 20000.0", "price_cap_usd = 9000.0")),)),
    # ---- catalogs and config folders ------------------------------------------------------------
    Case("configs-broken-cells", ("--configs", "{tmp}/lab", "solve", "us_kei_150km"), 3,
         ("{tmp}/lab/catalog/cells.toml", "capacity_ah"),
         (("lab/catalog/cells.toml", edited(CATALOG / "cells.toml", "capacity_ah = 105.0", "capacity_ah = -105.0")),)),
    Case("configs-missing-folder", ("--configs", "{tmp}/nolab", "cycles"), 3, ("{tmp}/nolab", "folder")),
    Case("configs-without-value", ("cycles", "--configs"), 2, ("--configs",)),
    Case("catalog-dir-is-a-file", ("catalog", "--dir", "{tmp}/f.toml"), 3, ("f.toml", "is a file"),
         (("f.toml", b"x = 1\n"),)),
    # ---- command-line options -------------------------------------------------------------------
    Case("unknown-command", ("solv", "us_kei_15k"), 2, ("invalid choice", "solv")),
    Case("solve-top-zero", ("solve", "us_kei_150km", "--top", "0"), 2, ("--top",)),
    Case("solve-top-not-a-number", ("solve", "us_kei_150km", "--top", "three"), 2, ("--top",)),
    Case("solve-negative-cap", ("solve", "us_kei_15k", "--price-cap", "-1"), 2, ("--price-cap",)),
    Case("solve-nan-cap", ("solve", "us_kei_15k", "--price-cap", "nan"), 2, ("--price-cap",)),
    Case("solve-out-missing-folder", ("solve", "us_kei_150km", "--out", "{tmp}/no/d.toml"), 2,
         ("--out", "{tmp}/no", "does not exist")),
    Case("solve-out-wrong-extension", ("solve", "us_kei_150km", "--out", "{tmp}/d.json"), 2, ("--out", ".json")),
    Case("simulate-plot-wrong-extension", ("simulate", "nissan_sakura", "--plot", "{tmp}/p.jpg"), 2, ("--plot", ".jpg")),
    Case("simulate-plot-is-a-folder", ("simulate", "nissan_sakura", "--plot", "{tmp}"), 2, ("--plot", "is a folder")),
    Case("simulate-csv-missing-folder", ("simulate", "nissan_sakura", "--csv", "{tmp}/no/s.csv"), 2, ("--csv",)),
    Case("hil-pace-unknown", ("hil", "run", "us_kei_150km", "--emulator", "python", "--pace", "fast",
                              "--log", "{tmp}/run"), 2, ("--pace", "fast")),
    Case("hil-max-steps-zero", ("hil", "run", "us_kei_150km", "--emulator", "python", "--max-steps", "0",
                                "--log", "{tmp}/run"), 2, ("--max-steps",)),
    Case("hil-inject-bad", ("hil", "run", "us_kei_150km", "--emulator", "python", "--inject", "ber=2",
                            "--log", "{tmp}/run"), 2, ("--inject", "ber=2")),
    Case("hil-emulator-unknown", ("hil", "run", "us_kei_150km", "--emulator", "matlab"), 2, ("--emulator", "matlab")),
    Case("hil-report-plot-missing-folder", ("hil", "report", "{tmp}", "--plot", "{tmp}/no/p.png"), 2, ("--plot",)),
    Case("hil-design-is-a-folder", ("hil", "run", "{tmp}", "--emulator", "python"), 3, ("{tmp}", "is a folder")),
    Case("firmware-config-missing-design", ("firmware", "config", "{tmp}/d.toml"), 3, ("{tmp}/d.toml", "not found")),
    # ---- ports and logs -------------------------------------------------------------------------
    Case("hil-port-missing", ("hil", "run", "us_kei_150km", "--port", "/dev/does-not-exist", "--log", "{tmp}/run"),
         5, ("/dev/does-not-exist",)),
    Case("hil-port-refused", ("hil", "run", "us_kei_150km", "--port", "socket://127.0.0.1:9", "--log", "{tmp}/run"),
         5, ("socket://127.0.0.1:9",)),
    Case("hil-resume-not-a-log", ("hil", "resume", "{tmp}"), 3, ("{tmp}", "not a session log")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEI_CONFIG_DIR", "")  # main() may set it (--configs): restored after the test
    monkeypatch.delenv("KEI_CONFIG_DIR")
    for rel, data in case.files:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if any(rel.startswith("lab/") for rel, _ in case.files):  # a lab folder: the rest of its catalog too
        for f in CATALOG.glob("*.toml"):
            if not (tmp_path / "lab" / "catalog" / f.name).exists():
                shutil.copy(f, tmp_path / "lab" / "catalog" / f.name)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in case.argv]
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    assert code == case.code, f"exit {code}, expected {case.code}: {err}"
    message = err if case.code else out + err
    for needle in case.names:
        assert needle.replace("{tmp}", str(tmp_path)) in message, f"{needle!r} not in: {message}"


def test_the_table_is_big_enough():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)
