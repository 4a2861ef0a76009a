"""The hardware tier (docs/lab.md): `pytest -m hardware --bench-config my_lab.toml` runs the lab
session tests against the real source/load and BMS the file names. Without such a file every test
here skips, saying why. A run drives real current: set the limits for the pack on the bench first.

What runs: the instrument identifies, takes its command table and leaves its output off; the BMS
answers with plausible values; a short session (60 realtime steps of the design) ends with the
output off and a complete log; Ctrl-C in the middle of it switches the output off."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kei.hil.lab.bms_clients import bms_client
from kei.hil.lab.config import dbc_path, load_lab_config
from kei.hil.lab.instrument import open_instrument
from kei.hil.log.session_log import read_log

pytestmark = pytest.mark.hardware
ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "configs" / "designs" / "us_kei_150km.toml"
SHORT_STEPS = 60


@pytest.fixture(scope="module")
def lab(pytestconfig):
    path = pytestconfig.getoption("--bench-config")
    if path is None:
        pytest.skip("no lab bench named: run `pytest -m hardware --bench-config my_lab.toml` with a config that "
                    "names real instruments (configs/lab/lab.toml is the example)")
    config = load_lab_config(path)
    if config.emulated:
        pytest.skip(f"{path} names the emulator, not instruments (tests/component/test_lab_*.py cover it)")
    return Path(path), config


def test_instrument_identifies_and_is_left_off(lab):
    _, config = lab
    inst = open_instrument(config.instrument)
    try:
        idn = inst.open()
        inst.configure()
        assert not inst.output_is_on(), idn
        v, i = inst.measure()
        assert config.limits.min_pack_v <= v <= config.limits.max_pack_v and abs(i) < config.limits.current_tolerance_a
    finally:
        inst.close()


def test_bms_answers_with_plausible_values(lab):
    _, config = lab
    client = bms_client(config.bms, dbc=dbc_path(config.bms, config.source) if config.bms.protocol == "can" else None)
    client.open()
    try:
        r = client.read(cells=True)
    finally:
        client.close()
    assert config.limits.min_pack_v <= r.pack_voltage_v <= config.limits.max_pack_v
    assert 0.0 <= r.soc <= 1.0 and r.contactor and r.fault_flags == 0
    assert config.limits.min_cell_v <= r.cell_v_min_v <= r.cell_v_max_v <= config.limits.max_cell_v


def kei(*args):
    return subprocess.Popen([sys.executable, "-m", "kei", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_short_session_ends_with_the_output_off(lab, tmp_path):
    path, config = lab
    host = kei("hil", "run", DESIGN, "--bench-config", path, "--log", tmp_path / "s", "--max-steps", SHORT_STEPS, "--json")
    out, err = host.communicate(timeout=SHORT_STEPS * 3 + 60)
    assert host.returncode == 0, err[-3000:]
    result = json.loads(out)
    assert result["cutoff_reason"] == "step_limit" and result["safe_state_failures"] == 0
    assert read_log(tmp_path / "s").last_step == SHORT_STEPS
    inst = open_instrument(config.instrument)
    inst.open()
    try:
        assert not inst.output_is_on()
    finally:
        inst.close()


def test_ctrl_c_switches_the_output_off(lab, tmp_path):
    path, config = lab
    host = kei("hil", "run", DESIGN, "--bench-config", path, "--log", tmp_path / "c", "--max-steps", SHORT_STEPS)
    time.sleep(15)
    host.send_signal(signal.SIGINT)
    _, err = host.communicate(timeout=60)
    assert host.returncode == 130, err[-3000:]
    names = [e["event"] for e in read_log(tmp_path / "c").events]
    assert names.index("safe_state") < names.index("interrupted")
    inst = open_instrument(config.instrument)
    inst.open()
    try:
        assert not inst.output_is_on()
    finally:
        inst.close()
