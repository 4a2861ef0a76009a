"""`kei hil run DESIGN --bench-config lab.toml` end to end on the emulated lab bench (issue 13): the
real host process, the lab emulator process, PyVISA over TCP, the BMS over a pty. Every range is
compared with the same design and cycle on the kei-protocol emulator, run in this module.

Fault tests: each path (a BMS protection, a limit breach, the instrument link lost, the BMS link
lost, Ctrl-C, SIGTERM, the host killed) must end with the instrument's output off, asked of the
emulated instrument itself with PyVISA, and a log in which no step is lost or doubled."""
import json
import signal
import time

import pytest
from lab_support import (
    CYCLE,
    DESIGN,
    emulator_info,
    events,
    kei,
    kei_json,
    lab_config_file,
    output_is_on,
    start_kei,
    stop_emulator,
    wait_for_rows,
)

from kei.hil.lab.lab_log import read_lab_log
from kei.hil.log.session_log import read_log

SAME_AS_KEI_PROTOCOL = 0.01   # the issue: within 1 % of the kei-protocol emulator
SAME_RUN = 0.005              # a resumed run against an uninterrupted one (as tests/component/test_hil_session.py)
KILL_AFTER_ROWS = 3000
SHORT = 6000                  # interrupted runs end at this step (--max-steps), compared with a clean run there


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("kei") / "ref"
    return kei_json("hil", "run", DESIGN, "--cycle", CYCLE, "--emulator", "python", "--log", log_dir)


def lab_run(tmp_path, name, *args, code=0, **sections):
    cfg = lab_config_file(tmp_path, f"{name}.toml", **sections)
    out = kei("hil", "run", DESIGN, "--cycle", CYCLE, "--bench-config", cfg, "--log", tmp_path / name, "--json", *args)
    assert out.returncode == code, out.stderr[-3000:]
    return (json.loads(out.stdout) if code == 0 else out), tmp_path / name


def assert_complete_log(log_dir, result=None):
    """Every step 0..N logged once (read_log refuses gaps and repeats), lab.csv row for row."""
    log = read_log(log_dir)
    lab = read_lab_log(log_dir)
    assert log.columns["step"][0] == 0 and list(lab["step"]) == list(log.columns["step"])
    if result is not None:
        assert log.last_step == result["steps"] == log.rows - 1
    return log


def assert_safe_first(log_dir, before: str):
    """The output was switched off (and read back off) before the event that says why the run ended."""
    ev = events(log_dir)
    assert "safe_state" in ev and ev.index("safe_state") < ev.index(before), ev[-8:]


@pytest.fixture(scope="module")
def full_runs(tmp_path_factory):
    """One full-range lab run per BMS protocol, made when first asked for."""
    runs = {}

    def run(protocol):
        if protocol not in runs:
            tmp = tmp_path_factory.mktemp(f"lab_{protocol}")
            runs[protocol] = lab_run(tmp, "run", bms={"protocol": protocol})
        return runs[protocol]

    return run


def distance_at(log_dir, step):
    return float(read_log(log_dir).columns["distance_m"][step])


def assert_resumed_like_clean(result, log_dir, full_runs):
    """A resumed --max-steps SHORT run drives what the clean jbd run drove by that step."""
    _, clean_dir = full_runs("jbd")
    assert result["cutoff_reason"] == "step_limit" and result["steps"] == SHORT
    assert result["measured_range_km"] is None  # a --max-steps run is a smoke test, not a range (issue 15)
    assert result["distance_km"] * 1000.0 == pytest.approx(distance_at(clean_dir, SHORT), rel=SAME_RUN)
    assert_complete_log(log_dir, result)


@pytest.mark.parametrize("protocol", ["jbd", "daly", "can"])
def test_full_lab_session_measures_the_kei_protocol_range(full_runs, reference, protocol):
    result, log_dir = full_runs(protocol)
    rel = result["measured_range_km"] / reference["measured_range_km"] - 1.0
    assert abs(rel) < SAME_AS_KEI_PROTOCOL, (protocol, result["measured_range_km"], reference["measured_range_km"])
    assert result["cutoff_reason"] == "bms_cutoff" == reference["cutoff_reason"]
    assert "undervoltage" in result["cutoff_detail"], result["cutoff_detail"]  # reported by the BMS's flags
    assert result["bms_protocol"] == protocol and result["steps"] > 15000
    assert result["safe_state_failures"] == 0 and result["regen_skipped_steps"] == 0
    log = assert_complete_log(log_dir, result)
    assert log.columns["pack_current_a"].min() < -10  # regeneration charged the pack (two-quadrant instrument)
    assert_safe_first(log_dir, "end")
    device_log = (log_dir / "device.log").read_text()
    assert device_log.index("BMS protection undervoltage") < device_log.rindex("output OFF")


def test_report_and_plot_work_unchanged_on_a_lab_log(full_runs, tmp_path):
    result, log_dir = full_runs("jbd")
    out = kei("hil", "report", log_dir, "--plot", tmp_path / "lab.png", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["measured_range_km"] == result["measured_range_km"]
    assert (tmp_path / "lab.png").stat().st_size > 10000


def test_regen_is_skipped_where_the_instrument_cannot_source(tmp_path):
    """The same 3000 steps with and without a sourcing instrument: the car drives the same, the load
    takes no charge current and the skipped steps are counted."""
    both, logs = {}, {}
    for name, can_source in (("src", True), ("sink", False)):
        both[name], logs[name] = lab_run(tmp_path, name, "--max-steps", "3000", instrument={"can_source": can_source})
    src, sink = both["src"], both["sink"]
    assert src["regen_skipped_steps"] == 0 and sink["regen_skipped_steps"] > 300
    # The same distance (friction brakes instead; a --max-steps run measures no range, so compare the
    # distance driven: comparing two None ranges held only on pytest < 9.2, where approx(None) == None).
    assert sink["distance_km"] == pytest.approx(src["distance_km"], rel=1e-9) and src["distance_km"] > 0
    assert sink["energy_delivered_wh"] > src["energy_delivered_wh"] * 1.05  # no energy came back
    lab = read_lab_log(logs["sink"])
    assert lab["setpoint_a"].min() == 0.0 and read_log(logs["sink"]).columns["pack_current_a"].min() >= 0.0


def test_limit_breach_switches_the_output_off_first(tmp_path):
    result, log_dir = lab_run(tmp_path, "hot", limits={"max_temp_c": 26.0})
    assert result["cutoff_reason"] == "limit_breach" and "max_temp_c" in result["cutoff_detail"]
    assert_safe_first(log_dir, "end")
    assert_complete_log(log_dir, result)
    assert read_log(log_dir).columns["temperature_c"][-1] > 26.0 and result["steps"] < 15000


def test_lost_instrument_link_switches_off_on_reconnect_then_resumes(tmp_path, full_runs):
    """The SCPI link goes silent (a pulled LAN cable) for 3 s at emulated second 3000: the host's
    query times out, the safety layer reconnects until the instrument answers and switches it off,
    the run stops with a resume hint; the resume completes the range."""
    out, log_dir = lab_run(tmp_path, "scpi", "--max-steps", SHORT, code=5, instrument={"timeout_s": 0.5},
                           emulator={"fault": "scpi-silent@3000:3", "idle_exit_s": 60.0},
                           safety={"safe_off_timeout_s": 20.0})
    try:
        assert "kei hil resume" in out.stderr and "output is off" in out.stderr
        assert_safe_first(log_dir, "aborted")
        safe = next(e for e in read_log(log_dir).events if e["event"] == "safe_state")
        assert safe["tries"] > 1  # it took a reconnect
        assert not output_is_on(emulator_info(log_dir)["scpi"])
        assert_complete_log(log_dir)
        assert_resumed_like_clean(kei_json("hil", "resume", log_dir), log_dir, full_runs)
    finally:
        stop_emulator(log_dir)


def test_lost_bms_link_switches_the_output_off(tmp_path):
    out, log_dir = lab_run(tmp_path, "bms", code=5, bms={"timeout_s": 0.2, "retries": 2},
                           emulator={"fault": "bms-silent@3000", "idle_exit_s": 60.0})
    try:
        assert "no valid answer to register" in out.stderr and "kei hil resume" in out.stderr
        assert_safe_first(log_dir, "aborted")
        assert not output_is_on(emulator_info(log_dir)["scpi"])
        log = assert_complete_log(log_dir)
        assert 2990 < log.last_step < 3010  # the BMS fell silent at emulated second 3000
    finally:
        stop_emulator(log_dir)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 130)], ids=["ctrl-c", "sigterm"])
def test_interrupt_switches_the_output_off_and_resumes(tmp_path, full_runs, sig, code):
    cfg = lab_config_file(tmp_path, emulator={"idle_exit_s": 60.0})
    log_dir = tmp_path / "int"
    host = start_kei("hil", "run", DESIGN, "--cycle", CYCLE, "--bench-config", cfg, "--log", log_dir,
                     "--max-steps", SHORT)
    try:
        wait_for_rows(log_dir, KILL_AFTER_ROWS, host)
        host.send_signal(sig)
        _, err = host.communicate(timeout=60)
        assert host.returncode == code, err[-2000:]
        assert "kei hil resume" in err
        assert_safe_first(log_dir, "interrupted")
        assert not output_is_on(emulator_info(log_dir)["scpi"])
        assert_resumed_like_clean(kei_json("hil", "resume", log_dir), log_dir, full_runs)
    finally:
        stop_emulator(log_dir)


def test_killed_host_the_guard_switches_off_and_resume_loses_no_step(tmp_path, full_runs):
    cfg = lab_config_file(tmp_path, emulator={"idle_exit_s": 60.0})
    log_dir = tmp_path / "kill"
    host = start_kei("hil", "run", DESIGN, "--cycle", CYCLE, "--bench-config", cfg, "--log", log_dir,
                     "--max-steps", SHORT)
    try:
        wait_for_rows(log_dir, KILL_AFTER_ROWS, host)
        host.send_signal(signal.SIGKILL)
        host.communicate(timeout=10)
        deadline = time.monotonic() + 20
        while "guard_safe_state" not in events(log_dir):
            assert time.monotonic() < deadline, "the guard did not report the output off"
            time.sleep(0.05)
        assert "safe_state" not in events(log_dir)  # the host had no chance: the guard did it
        assert not output_is_on(emulator_info(log_dir)["scpi"])
        assert_resumed_like_clean(kei_json("hil", "resume", log_dir), log_dir, full_runs)
        assert "resume_state" in events(log_dir)
    finally:
        stop_emulator(log_dir)
