"""The lab bench's pure parts: the SCPI parser of the emulated instruments, the host's pack model
(derating and power -> current against the emulated BMS's own), the safety checks and the lab config."""
import math

import pytest
from conftest import ROOT

from kei.errors import ConfigError
from kei.hil.emulator.lab_bench import LabBench
from kei.hil.emulator.scpi import PERSONALITIES, ScpiInstrument
from kei.hil.errors import LimitBreach
from kei.hil.lab.bms_clients import BmsReading
from kei.hil.lab.config import lab_config_from_dict, load_lab_config
from kei.hil.lab.safety import check_reading, check_setpoint
from kei.hil.lab.session import PackModel
from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.vehicle.files import load_vehicle

DESIGN = ROOT / "configs" / "designs" / "us_kei_150km.toml"
EMULATED = ROOT / "configs" / "lab" / "emulated.toml"


@pytest.fixture(scope="module")
def setup():
    return pack_setup(load_vehicle(DESIGN), load_bms_config())


@pytest.fixture
def bench(setup):
    return LabBench(setup.configure, setup.ocv_table.ocv_mv)


def test_scpi_short_long_forms_compound_and_paths(bench):
    scpi = ScpiInstrument(bench, PERSONALITIES["generic"])
    assert scpi.handle("source:current:level:immediate:amplitude -12.5") is None
    assert float(scpi.handle("SOUR:CURR?")) == -12.5
    assert scpi.handle(":OUTP:STAT ON;STAT?;:OUTP?") == "1;1"  # after ";" the path stays in OUTPut
    assert scpi.handle("*idn?").startswith("KEI,")
    assert scpi.handle("OUTPU ON") is None and scpi.handle("SYST:ERR?") == '-113,"Undefined header"'
    assert scpi.handle("SYST:ERR?") == '0,"No error"'


def test_scpi_load_personality_refuses_charge_and_the_other_tree(bench):
    scpi = ScpiInstrument(bench, PERSONALITIES["sdl1000x"])
    scpi.handle(":SOUR:CURR:LEV:IMM -1")          # a load cannot source
    scpi.handle(":OUTP:STAT ON")                   # the generic tree
    assert scpi.handle(":SYST:ERR?;:SYST:ERR?") == '-222,"Data out of range";-113,"Undefined header"'
    assert bench.setpoint_a == 0.0 and not bench.output_on


def test_host_clock_only_moves_when_advanced_and_wall_clock_runs(setup):
    host = LabBench(setup.configure, setup.ocv_table.ocv_mv)
    host.sync()
    assert host.time_s == 0.0
    now = [100.0]
    wall = LabBench(setup.configure, setup.ocv_table.ocv_mv, clock="wall", time_scale=10.0, clock_fn=lambda: now[0])
    now[0] += 2.5
    wall.sync()
    assert wall.time_s == pytest.approx(25.0)


def test_host_derating_and_current_match_the_emulated_bms(setup, bench):
    """The host's pack model (what JBD / Daly benches use instead of reported limits) against the
    emulated BMS's own derating and power -> current, deep in the derating window."""
    pack = PackModel.from_configure(setup.configure)
    bench.set_output(True)
    bench.set_current(60.0)
    while bench.bms.allowed_discharge_a > 0.5 * setup.configure.max_discharge_a:
        bench.advance(10.0)  # short enough not to cross the ~0.1 V derating window in one step
    p = bench.bms.pack
    r = BmsReading(p.pack_voltage_v, 60.0, bench.bms.soc_estimate, p.v_w, p.v_t, 93, 1, p.temp_c, p.temp_c, 0, 0, True)
    dis, chg = pack.allowed(r, 60.0)
    assert dis == pytest.approx(bench.bms.allowed_discharge_a, rel=1e-9)
    assert chg == pytest.approx(bench.bms.allowed_charge_a, rel=1e-9)
    e = bench.terminal_voltage_v() + 60.0 * pack.r0_ohm
    assert pack.current_for_power(20000.0, e) == pytest.approx(p.current_for_power(20000.0), rel=1e-12)


def reading(**kw):
    base = dict(pack_voltage_v=350.0, current_a=50.0, soc=0.5, cell_v_min_v=3.6, cell_v_max_v=3.7, cell_min_index=93,
                cell_max_index=1, temp_max_c=30.0, temp_min_c=30.0, fault_flags=0, raw_flags=0, contactor=True)
    return BmsReading(**{**base, **kw})


def test_safety_checks_name_the_limit():
    limits = load_lab_config(EMULATED).limits
    check_setpoint(limits, 100.0, 90.0, True)
    for current, previous, source, name in ((301.0, 300.0, True, "max_discharge_a"), (-121.0, -120.0, True, "max_charge_a"),
                                            (-1.0, 0.0, False, "can_source"), (250.0, -200.0, True, "max_step_change_a")):
        with pytest.raises(LimitBreach) as err:
            check_setpoint(limits, current, previous, source)
        assert err.value.limit == name
    assert check_reading(limits, 350.0, 50.0, 50.0, reading()) is None
    assert check_reading(limits, 350.0, 50.0, 50.0, reading(cell_v_min_v=2.3)).limit == "min_cell_v"
    assert check_reading(limits, 350.0, 50.0, 50.0, reading(temp_max_c=59.0)).limit == "max_temp_c"
    assert check_reading(limits, 350.0, 47.0, 50.0, reading()).limit == "current_tolerance_a"
    assert check_reading(limits, 210.0, 50.0, 50.0, reading()).limit == "min_pack_v"


def test_lab_config_errors_name_file_and_key():
    import tomllib

    raw = tomllib.loads(EMULATED.read_text())
    for section, key, value, match in (("limits", "max_cell_volts", 4.3, "limits.max_cell_volts: unknown key"),
                                       ("instrument", "model", "keysight", "unknown model"),
                                       ("bms", "protocol", "modbus", "unknown protocol"),
                                       ("bms", "port", "/dev/ttyUSB0", "both 'emulator' or neither"),
                                       ("limits", "min_cell_v", 5.0, "must be below limits.max_cell_v")):
        bad = {k: dict(v) for k, v in raw.items()}
        bad[section][key] = value
        with pytest.raises(ConfigError, match=match) as err:
            lab_config_from_dict(bad, "my_lab.toml")
        assert err.value.file == "my_lab.toml"
    cfg = load_lab_config(EMULATED)
    assert cfg.emulated and cfg.clock == "host" and not math.isnan(cfg.session.limp_speed_kmh)
