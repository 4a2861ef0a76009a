"""`kei firmware config DESIGN`: the pack_config.h the C stub boots with (no compiler needed here;
tests/component/test_firmware_config_build.py compiles one and runs it)."""
from __future__ import annotations

import re
import struct
from dataclasses import fields

import pytest
from conftest import ROOT, run_kei

from kei.hil.firmware.build import DEFAULT_PACK_CONFIG
from kei.hil.firmware.header import c_float, to_f32
from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.hil.wire import protocol as P
from kei.vehicle.files import load_vehicle

DESIGN = "configs/designs/sakura_pack.toml"


def parse_header(text: str) -> tuple[dict[str, float], list[int]]:
    """The initializers back as numbers (what a C compiler would read)."""
    configure = {m.group(1): float(m.group(2).rstrip("fu")) for m in
                 re.finditer(r"^\s+\.(\w+) = ([-+0-9.eE]+[fu]), \\$", text, re.M)}
    ocv = [int(v) for v in re.findall(r"(\d+)u", text.split(".ocv_mv = {", 1)[1])]
    return configure, ocv


def test_committed_default_is_current():
    done = run_kei("firmware", "config", DESIGN)
    assert done.returncode == 0, done.stderr
    assert done.stdout == DEFAULT_PACK_CONFIG.read_text(), (
        "firmware_stubs/config/pack_config.h is stale: regenerate it with\n"
        f"  python3 -m optimizer firmware config {DESIGN} -o firmware_stubs/config/pack_config.h")


def test_header_carries_exactly_the_configure_message():
    setup = pack_setup(load_vehicle(ROOT / DESIGN), load_bms_config())
    configure, ocv = parse_header(run_kei("firmware", "config", DESIGN).stdout)
    names = [f.name for f in fields(P.Configure) if f.name != "seq"]
    assert list(configure) == names  # every CONFIGURE field, in wire order
    for name in names:
        want = getattr(setup.configure, name)
        # what the wire would carry: f32 for floats; a C compiler reads the literal to that f32
        assert to_f32(configure[name]) == (to_f32(want) if isinstance(want, float) else want), name
    assert ocv == list(setup.ocv_table.ocv_mv) and len(ocv) == P.OCV_POINTS


@pytest.mark.parametrize("x", [0.1, 28.6, 1e-30, 3.4e38, -2.5, 0.0, 114080.0, 1.01, 0.058438523])
def test_c_float_round_trips_binary32(x):
    text = c_float(x)
    assert text.endswith("f") and ("." in text or "e" in text)
    assert struct.pack("<f", float(text[:-1])) == struct.pack("<f", x)


def test_vehicle_without_a_cell_gets_the_generic_cell(sakura_path):
    done = run_kei("firmware", "config", sakura_path)
    assert done.returncode == 0, done.stderr
    assert "a generic cell" in done.stdout and "no [battery.cell]" in done.stdout


def test_bad_design_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.toml"
    done = run_kei("firmware", "config", missing)
    assert done.returncode == 3 and "nope.toml" in done.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / DESIGN).read_text().replace("series = 92", "series = 0"))
    done = run_kei("firmware", "config", bad)
    assert done.returncode == 3 and "bad.toml" in done.stderr and "series" in done.stderr


def test_output_file(tmp_path):
    out = tmp_path / "pack_config.h"
    done = run_kei("firmware", "config", DESIGN, "-o", out)
    assert done.returncode == 0 and done.stdout == ""
    assert out.read_text() == DEFAULT_PACK_CONFIG.read_text()
    assert "PACK_CONFIG=" in done.stderr


def test_committed_ranges_header_is_the_table():
    """The C stub compiles the CONFIGURE range table in; the committed header must be generated from
    the table the Python emulator and the host use (issue 15)."""
    from kei.hil.firmware.ranges_header import ranges_header

    committed = ROOT / "firmware_stubs" / "include" / "kei_configure_ranges.h"
    assert committed.read_text() == ranges_header(), (
        "firmware_stubs/include/kei_configure_ranges.h is stale: regenerate it with\n"
        "  python3 -m kei.hil.firmware.ranges_header -o firmware_stubs/include/kei_configure_ranges.h")
