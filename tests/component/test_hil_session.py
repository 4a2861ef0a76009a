"""`kei hil run / resume / report` end to end: the real host process, the real emulator process, real
ptys. Every comparison is against a clean run of the same design made in this module.

The design is the optimizer's headline design, the one `kei solve` writes for the bench: the answer
to us_kei_15k.toml when that problem has one, else the cheapest US kei with 150 km (us_kei_150km.toml;
docs/us_kei_15k.md), driven on the cycle it was optimised on."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kei.hil.log.session_log import read_log
from kei.hil.wire.protocol import WINDOW
from kei.vehicle.files import load_vehicle

ROOT = Path(__file__).resolve().parents[2]
HEADLINE = ROOT / "configs" / "designs" / "us_kei_15k.toml"
DESIGN = HEADLINE if HEADLINE.exists() else ROOT / "configs" / "designs" / "us_kei_150km.toml"
CYCLE = load_vehicle(DESIGN).design.cycle
SAME_RANGE = 0.005        # the issue: faults, resumes and restores change the range by < 0.5 %
PREDICTION_BAND = 0.05    # the issue: measured within 5 % of predicted (docs/hil.md explains the gap)
INJECT = "ber=1e-4,drop=1e-3,garbage=0.002:32,pause=1.5@1500,disconnect@4000,seed=3"
# Paced runs that a test interrupts: x5000 drives the ~16,500 s of the run in ~3.5 s of wall time.
INTERRUPTIBLE_PACE = "x5000"
KILL_AFTER_ROWS = 3000


def kei(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "kei", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def kei_json(*args, timeout=120):
    out = kei(*args, "--json", timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def start_kei(*args):
    return subprocess.Popen([sys.executable, "-m", "kei", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def rows_logged(log_dir: Path) -> int:
    try:
        return (log_dir / "steps.csv").read_text().count("\n") - 1
    except FileNotFoundError:
        return 0


def wait_for_rows(log_dir: Path, n: int, proc, timeout_s=60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while rows_logged(log_dir) < n:
        assert proc.poll() is None, f"host exited early: {proc.communicate()}"
        assert time.monotonic() < deadline, f"fewer than {n} rows in {timeout_s} s"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def emulator_pids(log_dir: Path) -> list[int]:
    return [e["pid"] for e in read_log(log_dir).events if e["event"] == "device_started"]


def stop_emulators(log_dir: Path) -> None:
    for pid in emulator_pids(log_dir):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def assert_same_range(result: dict, clean: dict) -> None:
    rel = abs(result["measured_range_km"] / clean["measured_range_km"] - 1.0)
    assert rel < SAME_RANGE, (result["measured_range_km"], clean["measured_range_km"])
    assert result["cutoff_reason"] == clean["cutoff_reason"]


def assert_complete_log(log_dir: Path, result: dict) -> None:
    """Every step logged exactly once, 0..steps (read_log rejects gaps and repeats)."""
    log = read_log(log_dir)
    assert log.columns["step"][0] == 0 and log.last_step == result["steps"] == log.rows - 1
    assert log.columns["distance_m"][-1] / 1000.0 == pytest.approx(result["measured_range_km"], rel=1e-12)


@pytest.fixture
def clean(clean_hil_run):
    return clean_hil_run  # (result, log dir) of the clean run (tests/conftest.py)


def test_full_emulated_run_to_cutoff_over_a_pty(clean):
    result, log_dir = clean
    assert result["cutoff_reason"] in ("bms_cutoff", "derated", "soc_floor"), result["cutoff_detail"]
    assert result["steps"] > 15000 and result["cycles"] > 5
    # A clean line: no frame damaged or lost. A busy machine (the suite's other worker) can still
    # delay an answer past the adaptive timeout now and then (8 of 16,361 steps seen): such a
    # spurious timeout resends the window in flight, answered from the device's cache. So every
    # resend must be a timeout's, never a loss seen in the answers, and timeouts must stay rare.
    assert result["crc_errors"] == 0 and sum(result["frame_errors"].values()) == 0 and result["nacks"] == 0
    assert result["frames_retried"] <= WINDOW * result["timeouts"]
    assert result["timeouts"] < 0.002 * result["steps"]
    assert 0 < result["soc_estimate_error_max"] < 0.05
    assert result["energy_delivered_wh"] > 15000
    assert {"measured_range_km", "predicted_range_km", "cutoff_reason", "steps", "cycles", "frames_sent",
            "frames_retried", "crc_errors", "elapsed_s", "soc_estimate_error_max"} <= set(result)
    assert_complete_log(log_dir, result)
    log = read_log(log_dir)
    # The emulator the run started is stopped at the end; the pack was really drained.
    assert emulator_pids(log_dir) and not any(alive(p) for p in emulator_pids(log_dir))
    assert log.columns["soc_true"][-1] < 0.05 and log.columns["pack_voltage_v"][-1] < log.columns["pack_voltage_v"][0]
    assert (log_dir / "design.toml").read_bytes() == DESIGN.read_bytes()
    assert read_log(log_dir).header["design"]["sha256"]


def test_measured_range_within_5_percent_of_predicted(clean):
    result, _ = clean
    assert abs(result["measured_range_km"] / result["predicted_range_km"] - 1.0) < PREDICTION_BAND, result


def test_fault_injected_run_measures_the_same_range(clean, tmp_path):
    result = kei_json("hil", "run", DESIGN, "--cycle", CYCLE, "--emulator", "python", "--log", tmp_path / "f",
                      "--inject", INJECT)
    assert_same_range(result, clean[0])
    assert_complete_log(tmp_path / "f", result)
    injected = result["injected"]
    assert all(injected[k] > 0 for k in ("bits_flipped", "bytes_dropped", "garbage_bursts", "pauses", "disconnects"))
    assert result["frames_retried"] > 100 and result["crc_errors"] > 10 and result["timeouts"] > 0
    assert result["reconnects"] >= 1 and result["device_restores"] == 0  # the device kept its state


def kill_host_midway(log_dir):
    """Start `kei hil run` on the python emulator and SIGKILL the host once it has logged some rows."""
    host = start_kei("hil", "run", DESIGN, "--cycle", CYCLE, "--emulator", "python", "--log", log_dir,
                     "--pace", INTERRUPTIBLE_PACE)
    wait_for_rows(log_dir, KILL_AFTER_ROWS, host)
    host.send_signal(signal.SIGKILL)
    host.communicate(timeout=10)


def test_resume_after_the_host_is_killed(clean, tmp_path):
    log_dir = tmp_path / "k"
    try:
        kill_host_midway(log_dir)
        (pid,) = emulator_pids(log_dir)
        assert alive(pid), "the emulator must survive its host (own session) to be resumed"
        assert read_log(log_dir).result is None
        result = kei_json("hil", "resume", log_dir, "--pace", "max")
        events = [e["event"] for e in read_log(log_dir).events]
        assert "continue" in events and "restored" not in events  # cached answers, nothing re-applied
        assert_same_range(result, clean[0])
        assert_complete_log(log_dir, result)
        assert not alive(pid)
    finally:
        stop_emulators(log_dir)


def test_resume_after_the_device_reset(clean, tmp_path):
    """Host and emulator both killed: resume starts a new emulator and restores it from the log."""
    log_dir = tmp_path / "r"
    try:
        kill_host_midway(log_dir)
        stop_emulators(log_dir)
        result = kei_json("hil", "resume", log_dir, "--pace", "max")
        log = read_log(log_dir)
        assert [e["event"] for e in log.events].count("restored") == 1 and len(emulator_pids(log_dir)) == 2
        assert result["device_restores"] == 1
        assert_same_range(result, clean[0])
        assert_complete_log(log_dir, result)
    finally:
        stop_emulators(log_dir)


def test_device_reset_mid_run_is_restored_without_the_host_stopping(clean, tmp_path):
    log_dir = tmp_path / "d"
    host = start_kei("hil", "run", DESIGN, "--cycle", CYCLE, "--emulator", "python", "--log", log_dir,
                     "--pace", INTERRUPTIBLE_PACE, "--json")
    try:
        wait_for_rows(log_dir, KILL_AFTER_ROWS, host)
        stop_emulators(log_dir)  # the device dies under a running host
        out, err = host.communicate(timeout=60)
        assert host.returncode == 0, err[-3000:]
        result = json.loads(out)
        assert result["device_restores"] == 1 and result["reconnects"] >= 1
        assert_same_range(result, clean[0])
        assert_complete_log(log_dir, result)
    finally:
        stop_emulators(log_dir)


def test_pulled_cable_stops_with_a_resume_hint_then_resumes_on_another_port(clean, tmp_path):
    """A port that vanishes (emulator killed under --port) and does not come back: the host gives up
    after reconnect_timeout_s, naming the port and the resume command; resume on a new device."""
    config = tmp_path / "bench.toml"
    text = (ROOT / "configs" / "bench.toml").read_text()
    config.write_text(text.replace("reconnect_timeout_s = 30.0", "reconnect_timeout_s = 1.0"))
    device = subprocess.Popen([sys.executable, "-m", "kei.hil.emulator", "--idle-exit-s", "60"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        port = device.stdout.readline().split()[1]
        log_dir = tmp_path / "c"
        host = start_kei("hil", "run", DESIGN, "--cycle", CYCLE, "--port", port, "--log", log_dir,
                         "--pace", INTERRUPTIBLE_PACE, "--bench-config", config)
        wait_for_rows(log_dir, KILL_AFTER_ROWS, host)
        device.kill()
        device.wait(5)
        _, err = host.communicate(timeout=60)
        assert host.returncode == 5  # the device went away: exit code 5
        assert port in err and f"kei hil resume {log_dir}" in err
        assert read_log(log_dir).rows > KILL_AFTER_ROWS
        result = kei_json("hil", "resume", log_dir, "--emulator", "python", "--pace", "max")
        assert result["device_restores"] == 1
        assert_same_range(result, clean[0])
        assert_complete_log(log_dir, result)
    finally:
        if device.poll() is None:
            device.kill()
        device.stdout.close()
        stop_emulators(tmp_path / "c")


def test_report_summarizes_and_plots(clean, tmp_path):
    result, log_dir = clean
    png = tmp_path / "run.png"
    out = kei("hil", "report", log_dir, "--plot", png)
    assert out.returncode == 0, out.stderr
    assert f"{result['measured_range_km']:.1f} km" in out.stdout and result["cutoff_reason"] in out.stdout
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20_000
    assert kei_json("hil", "report", log_dir)["measured_range_km"] == result["measured_range_km"]


def test_bad_inputs_name_their_cause(tmp_path):
    out = kei("hil", "run", DESIGN, "--emulator", "python", "--inject", "ber=0.1,pause=3", "--log", tmp_path / "x")
    assert out.returncode == 2 and "'pause=3'" in out.stderr
    out = kei("hil", "run", DESIGN, "--port", "/dev/does-not-exist", "--log", tmp_path / "y")
    assert out.returncode == 5 and "/dev/does-not-exist" in out.stderr and "cannot open" in out.stderr
    out = kei("hil", "resume", tmp_path / "nothing-here")
    assert out.returncode == 3 and "not a session log" in out.stderr
    out = kei("hil", "run", DESIGN, "--emulator", "python", "--pace", "fast", "--log", tmp_path / "z")
    assert out.returncode == 2 and "--pace" in out.stderr


def test_ports_lists_or_explains():
    out = kei("hil", "ports")
    assert out.returncode == 0 and out.stdout.strip()
    listed = kei("hil", "ports", "--json")
    assert isinstance(json.loads(listed.stdout), list)


class HostileLine:
    """A pty the host opens, relayed to the real emulator, with the device's answers salted with
    bad frames: garbage, oversize runs, bad CRCs, unknown types, wrong lengths, unknown NACK reasons,
    unsolicited answers and telemetry for steps nowhere near the window."""

    def __init__(self, device_port: str, seed: int = 7):
        import random
        import threading
        import tty
        from dataclasses import replace

        from kei.hil.wire.framing import encode_frame
        from kei.hil.wire.protocol import Ack, Fault, HelloAck, Nack, Telemetry

        self.rng = random.Random(seed)
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.dev = os.open(device_port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.dev)
        far = lambda: self.rng.randrange(20000, 40000)  # noqa: E731  (never inside a 16-step window)
        tel = Telemetry(0, 1, 350.0, 10.0, 0.5, 0.5, 3.8, 3.8, 25.0, 100.0, 50.0, 0.0, 0.5, 0, 1)
        self.salt = [
            lambda: bytes(self.rng.randrange(1, 256) for _ in range(self.rng.randrange(1, 40))) + b"\x00",
            lambda: bytes(self.rng.randrange(1, 256) for _ in range(300)) + b"\x00",          # oversize
            lambda: Ack(1, 4).frame()[:-3] + b"\x55\x55\x00",                                    # bad CRC
            lambda: encode_frame(bytes([0x99, 1, 0]) + b"\x01\x02"),                           # unknown type
            lambda: encode_frame(tel.encode()[:-4]),                                            # short payload
            lambda: Nack(far(), 4, 200, 0).frame(),                                             # unknown reason
            lambda: Nack(far(), 4, 5, 3).frame(),                                               # stale OUT_OF_ORDER
            lambda: HelloAck(far(), 1, 0, 5, 16, 1, 0, 0, 300, "bogus").frame(),                # unsolicited
            lambda: Fault(far(), 1, 1, float("nan")).frame(),
            lambda: replace(tel, seq=far()).frame(),                                            # out of window
        ]
        self.injected = 0
        self._stop = False
        self.thread = threading.Thread(target=self._relay, daemon=True)
        self.thread.start()

    def _relay(self):
        import select

        while not self._stop:
            ready, _, _ = select.select([self.master, self.dev], [], [], 0.05)
            try:
                if self.master in ready:
                    os.write(self.dev, os.read(self.master, 4096))
                if self.dev in ready:
                    data = os.read(self.dev, 4096)
                    out = b""
                    while data:  # salt between (and inside) the device's frames
                        cut = self.rng.randrange(1, 200)
                        out += data[:cut]
                        data = data[cut:]
                        if self.rng.random() < 0.3:
                            out += self.rng.choice(self.salt)()
                            self.injected += 1
                    os.write(self.master, out)
            except OSError:
                return

    def close(self):
        self._stop = True
        self.thread.join(2)
        for fd in (self.master, self.slave, self.dev):
            os.close(fd)


def test_bad_frames_from_the_device_never_crash_the_host(clean, tmp_path):
    device = subprocess.Popen([sys.executable, "-m", "kei.hil.emulator", "--idle-exit-s", "60"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    line = None
    try:
        line = HostileLine(device.stdout.readline().split()[1])
        result = kei_json("hil", "run", DESIGN, "--cycle", CYCLE, "--port", line.port, "--pace", "max",
                          "--log", tmp_path / "h")
        assert line.injected > 1000
        assert result["crc_errors"] > 0 and result["frame_errors"]["oversize"] > 0
        assert_same_range(result, clean[0])
        assert_complete_log(tmp_path / "h", result)
    finally:
        if line is not None:
            line.close()
        device.kill()
        device.wait(5)
        device.stdout.close()


def test_the_c_firmware_stub_measures_the_same_range(clean, tmp_path):
    result = kei_json("hil", "run", DESIGN, "--cycle", CYCLE, "--emulator", "firmware", "--log", tmp_path / "fw",
                      timeout=300)
    assert result["device"]["kind"] == 1  # HELLO_ACK device_kind: the C stub
    assert_same_range(result, clean[0])
    assert_complete_log(tmp_path / "fw", result)
