"""The emulated BMS as a real process on a real pty (python3 -m hil.device; the C stub too where a test
says so), driven with pyserial."""
import os
import select
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest
import serial

from kei.hil.link.devices import device_command
from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.hil.wire.framing import FrameDecoder
from kei.hil.wire.protocol import WINDOW, Ack, Hello, HelloAck, MsgType, Status, Step, Telemetry, decode
from kei.vehicle.files import load_vehicle

ROOT = Path(__file__).resolve().parents[2]
SETUP = pack_setup(load_vehicle(ROOT / "configs" / "designs" / "sakura_pack.toml"), load_bms_config())
START_TIMEOUT_S = 20.0


def spawn(*args, module=("kei.hil.emulator",), program=None):
    """Start `python -m MODULE ARGS` (or `PROGRAM ARGS`) and read its PORT line."""
    cmd = (program or [sys.executable, "-m", *module]) + list(args)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("PORT "):
        proc.kill()
        pytest.fail(f"no PORT line from {args}: {line!r} {proc.stderr.read()}")
    return proc, line.split(maxsplit=1)[1].strip()


@pytest.fixture
def device():
    procs = []

    def start(*args, **kw):
        proc, port = spawn(*args, **kw)
        procs.append(proc)
        return proc, port

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()


class Line:
    """A host end on a pyserial port: send messages, collect decoded answers."""

    def __init__(self, port):
        self.ser = serial.Serial(port, timeout=0.05)
        self.decoder = FrameDecoder()
        self.inbox = []

    def send(self, *msgs):
        self.ser.write(b"".join(m.frame() for m in msgs))

    def receive(self, count, timeout_s=10.0):
        deadline = time.monotonic() + timeout_s
        while len(self.inbox) < count and time.monotonic() < deadline:
            self.inbox += [decode(b) for b in self.decoder.feed(self.ser.read(max(1, self.ser.in_waiting)))]
        assert len(self.inbox) >= count, f"{len(self.inbox)} of {count} answers"
        got, self.inbox = self.inbox[:count], self.inbox[count:]
        return got

    def ask(self, *msgs):
        self.send(*msgs)
        return self.receive(len(msgs))

    def steps(self, first, last, window=WINDOW):
        """Pipelined steps first..last; returns the telemetry in order."""
        out, seq = [], first
        while len(out) < last - first + 1:
            while seq <= last and seq - first - len(out) < window:
                self.send(Step(seq, 1.0, 1, 15000.0))
                seq += 1
            out += self.receive(1)
        return out

    def close(self):
        self.ser.close()


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_session_over_a_pty_then_sigterm(device):
    proc, port = device("--device-id", "0xC0FFEE")
    line = Line(port)
    line.ser.write(b"\x00")
    (hello,) = line.ask(Hello(1))
    assert isinstance(hello, HelloAck) and hello.device_id == 0xC0FFEE and hello.configured == 0
    assert line.ask(*SETUP.messages) == [Ack(0, MsgType.OCV_TABLE), Ack(0, MsgType.CONFIGURE)]
    telemetry = line.steps(1, 300)
    assert [t.seq for t in telemetry] == list(range(1, 301))
    assert all(isinstance(t, Telemetry) and t.contactor == 1 for t in telemetry)
    assert telemetry[-1].soc_true < telemetry[0].soc_true and telemetry[-1].energy_out_wh > 0
    line.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 0
    assert gone(proc.pid) and not os.path.exists(port)
    assert "steps_applied 300" in proc.stderr.read()


def test_state_survives_the_host_closing_and_reopening_the_port(device):
    proc, port = device()
    line = Line(port)
    line.ask(*SETUP.messages)
    before = line.steps(1, 50)[-1]
    line.close()  # the host goes away (killed, or a closed port)
    time.sleep(0.2)
    line = Line(port)
    (hello, status) = line.ask(Hello(9), Status(10))
    assert (hello.configured, hello.last_seq, hello.step_count) == (1, 50, 50)
    assert status == before  # the same state, the same answer
    assert line.ask(Step(50, 1.0, 1, 15000.0)) == [before]  # a retransmission, not a second application
    assert line.steps(51, 60)[-1].step_count == 60
    line.close()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(5) == 0


def test_garbage_on_the_line_then_frames(device):
    _, port = device()
    line = Line(port)
    line.ser.write(bytes(range(1, 256)) * 3 + b"\x00")
    (hello,) = line.ask(Hello(3))
    assert hello.seq == 3
    line.close()


def test_idle_exit(device):
    proc, port = device("--idle-exit-s", "0.5")
    assert proc.wait(10) == 0 and not os.path.exists(port)


def test_baud_pace_keeps_the_output_under_the_line_rate(device):
    baud = 19200
    _, port = device("--baud-pace", str(baud))
    line = Line(port)
    line.ask(*SETUP.messages)
    steps = [Step(s, 1.0, 1, 15000.0) for s in range(1, 21)]
    wire_bytes = len(steps) * 59  # a TELEMETRY frame on the wire (protocol.md section 5)
    start = time.monotonic()
    line.send(*steps)
    answers = line.receive(len(steps), timeout_s=20)
    elapsed = time.monotonic() - start
    assert [a.seq for a in answers] == list(range(1, 21))
    line_time = wire_bytes * 10 / baud
    assert elapsed >= 0.98 * line_time, f"{wire_bytes} bytes in {elapsed:.3f} s, faster than {baud} baud"
    line.close()


@pytest.mark.parametrize("kind", ["python", "firmware"])
def test_baud_pace_delays_the_input_too(device, kind):
    """Stop-and-wait on a paced line: the STEP must cross the line before the device can answer, then
    its TELEMETRY crosses back (protocol.md section 5), so a step costs at least both frames' line time.
    Pacing only the device's output would take 59/75 of that."""
    baud = 19200
    _, port = device("--baud-pace", str(baud), program=device_command(kind))  # firmware: built by make
    line = Line(port)
    line.ask(*SETUP.messages)
    steps = [Step(s, 1.0, 1, 15000.0) for s in range(1, 21)]
    wire_bytes = 0
    start = time.monotonic()
    for step in steps:
        (answer,) = line.ask(step)
        assert isinstance(answer, Telemetry) and answer.seq == step.seq
        wire_bytes += len(step.frame()) + len(answer.frame())  # 16 + 59
    elapsed = time.monotonic() - start
    line_time = wire_bytes * 10 / baud
    assert elapsed >= 0.98 * line_time, f"{len(steps)} round trips in {elapsed:.3f} s, under {line_time:.3f} s of line"
    line.close()


def test_serves_an_existing_tty(device):
    master, slave = os.openpty()
    tty.setraw(master)
    try:
        proc, port = device("--tty", os.ttyname(slave))
        assert port == os.ttyname(slave)
        os.write(master, Hello(5).frame())
        decoder, got, deadline = FrameDecoder(), [], time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                got = decoder.feed(os.read(master, 4096))
        assert decode(got[0]).seq == 5
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        os.close(master)
        os.close(slave)


def test_kei_hil_emulate_prints_the_port(device):
    proc, port = device("hil", "emulate", "--idle-exit-s", "2", module=("kei",))
    line = Line(port)
    (hello,) = line.ask(Hello(1))
    assert hello.firmware == "kei-py"
    line.close()
    assert proc.wait(10) == 0
