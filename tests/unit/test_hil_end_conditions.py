"""When a bench run ends: each end condition on its own, and the bench config that sets them."""
from dataclasses import replace

import pytest

from kei.errors import ConfigError
from kei.hil.session.end_conditions import EndCheck
from kei.hil.setup.bench_config import bench_config_from_dict, load_bench_config
from kei.hil.wire.protocol import FaultFlag, Telemetry
from kei.schema import read_toml

SETTINGS = load_bench_config().session
OK = Telemetry(1, 1, 350.0, 20.0, 0.5, 0.5, 3.7, 3.8, 25.0, 170.0, 57.0, 1000.0, 0.49, 0, 1)
CRUISE_W = 1100.0


def check(**kw):
    return EndCheck(SETTINGS, CRUISE_W, steps_per_cycle=100, **kw)


def test_a_healthy_step_does_not_end_the_run():
    assert check().update(1, 1.0, OK, 50_000.0) is None


def test_bms_cutoff_names_the_fault():
    t = replace(OK, contactor=0, fault_flags=int(FaultFlag.UNDERVOLTAGE | FaultFlag.EMPTY))
    reason, detail = check().update(7, 1.0, t, 0.0)
    assert reason == "bms_cutoff" and "undervoltage, empty" in detail and "step 7" in detail


def test_soc_floor():
    assert check().update(3, 1.0, replace(OK, soc_estimate=SETTINGS.soc_floor), 50_000.0)[0] == "soc_floor"


def test_derated_only_after_the_stranded_time():
    end = check()
    steps = int(SETTINGS.stranded_time_s)
    results = [end.update(i, 1.0, OK, CRUISE_W / 2) for i in range(1, steps + 1)]
    assert results[:-1] == [None] * (steps - 1) and results[-1][0] == "derated"
    end = check()
    for i in range(1, 3 * steps):  # a short recovery resets the count
        assert end.update(i, 1.0, OK, CRUISE_W / 2 if i % steps else 2 * CRUISE_W) is None


def test_max_cycles():
    assert check().update(SETTINGS.max_cycles * 100, 1.0, OK, 50_000.0)[0] == "max_cycles"


def test_bench_config_errors_name_file_and_key(tmp_path):
    from kei.hil.setup.bench_config import bench_config_file

    raw = read_toml(bench_config_file())
    raw["session"]["limit_lag_stesp"] = 3
    with pytest.raises(ConfigError, match=r"x\.toml.*session\.limit_lag_stesp.*did you mean 'limit_lag_steps'"):
        bench_config_from_dict(raw, "x.toml")
    raw = read_toml(bench_config_file())
    raw["session"]["limit_lag_steps"] = 4
    with pytest.raises(ConfigError, match="limit_lag_steps"):
        bench_config_from_dict(raw, "x.toml")
