"""The stub's host program (firmware_stubs/port/host/main.c) under the device-process contract of
docs/firmware.md, over real ptys, spoken to with the Python codec. Every exchange runs against the
normal build and the AddressSanitizer/UBSan build."""
from __future__ import annotations

import os
import random
import select
import subprocess
import time
import tty

import pytest
from firmware_support import DeviceProcess, host_program

from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.hil.wire import protocol as P
from kei.hil.wire.framing import FrameDecoder, encode_frame
from kei.resources import bundled_configs_dir
from kei.vehicle.files import load_vehicle

BUILDS = ("normal", "asan")


def sakura_setup():
    return pack_setup(load_vehicle(bundled_configs_dir() / "designs" / "sakura_pack.toml"), load_bms_config())


@pytest.mark.parametrize("build", BUILDS)
def test_hello_steps_and_sigterm(build):
    with DeviceProcess([str(host_program(build)), "--device-id", "305419896"]) as dev:
        hello = dev.request(P.Hello(seq=7))
        assert isinstance(hello, P.HelloAck) and hello.seq == 7
        assert (hello.protocol_version, hello.device_kind, hello.device_id) == (1, P.DeviceKind.C_STUB, 0x12345678)
        assert (hello.window, hello.configured, hello.firmware) == (P.WINDOW, 1, "kei-c")  # boots from pack_config.h
        setup = sakura_setup()
        assert isinstance(dev.request(setup.ocv_table), P.Ack)
        assert isinstance(dev.request(setup.configure), P.Ack)
        answers = dev.run_steps([P.Step(seq=s, dt_s=1.0, mode=P.StepMode.POWER, demand=15000.0) for s in range(1, 41)])
        assert [a.seq for a in answers] == list(range(1, 41))
        assert all(isinstance(a, P.Telemetry) and a.contactor == 1 for a in answers)
        assert answers[-1].step_count == 40
        # 15 kW for 40 s: the current is solved at the start of each step and the energy counted at its
        # end voltage (bms_model.md steps 1 and 3), a little lower as the RC branch charges: 0.1 %
        assert answers[-1].energy_out_wh == pytest.approx(15000 * 40 / 3600, rel=1e-3)
        assert answers[-1].energy_out_wh < 15000 * 40 / 3600
        # a retransmission returns the same answer and applies nothing; a gap is NACKed
        again = dev.request(P.Step(seq=35, dt_s=1.0, mode=P.StepMode.POWER, demand=99999.0))
        assert again == answers[34]
        nack = dev.request(P.Step(seq=43, dt_s=1.0, mode=0, demand=1.0))
        assert (nack.reason, nack.expected_seq) == (P.NackReason.OUT_OF_ORDER, 41)
        start = time.monotonic()
        assert dev.stop() == 0
        assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("build", BUILDS)
def test_state_survives_the_host_closing_the_port(build):
    with DeviceProcess([str(host_program(build))]) as dev:
        dev.run_steps([P.Step(seq=s, dt_s=1.0, mode=0, demand=20.0) for s in (1, 2, 3)])
        dev.close_port()
        time.sleep(0.2)
        dev.open()
        hello = dev.request(P.Hello(seq=1))
        assert (hello.last_seq, hello.step_count) == (3, 3)
        assert dev.stop() == 0


@pytest.mark.parametrize("build", BUILDS)
def test_garbage_on_the_line(build):
    rng = random.Random(5)
    with DeviceProcess([str(host_program(build))]) as dev:
        dev.send_raw(bytes(rng.randrange(256) for _ in range(20000)) + b"\x00")
        assert isinstance(dev.request(P.Hello(seq=9)), P.HelloAck)
        dev.send_raw(b"\x01\x02\x03\x00" + b"\x7f" * 500 + b"\x00")  # short, then oversize
        assert isinstance(dev.request(P.Status(seq=10)), P.Telemetry)
        assert dev.stop() == 0
        assert "errors cobs" in dev.stderr()


def test_unconfigured_boot_and_bad_messages():
    with DeviceProcess([str(host_program()), "--unconfigured"]) as dev:
        assert dev.request(P.Hello(seq=1)).configured == 0
        nack = dev.request(P.Step(seq=1, dt_s=1.0, mode=0, demand=1.0))
        assert nack.reason == P.NackReason.NOT_CONFIGURED
        dev.send_raw(encode_frame(bytes([P.MsgType.STEP, 0x02, 0x00])))  # a STEP without payload
        (nack,) = dev.receive(1)
        assert (nack.seq, nack.rejected_type, nack.reason) == (2, P.MsgType.STEP, P.NackReason.BAD_LENGTH)
        dev.send_raw(encode_frame(bytes([0x42, 0x03, 0x00])))
        (nack,) = dev.receive(1)
        assert (nack.seq, nack.rejected_type, nack.reason) == (3, 0x42, P.NackReason.UNKNOWN_TYPE)
        assert dev.stop() == 0


def test_idle_exit():
    with DeviceProcess([str(host_program()), "--idle-exit-s", "0.5"]) as dev:
        assert isinstance(dev.request(P.Hello(seq=1)), P.HelloAck)
        start = time.monotonic()
        assert dev.proc.wait(timeout=5) == 0
        assert 0.3 < time.monotonic() - start < 3.0


def test_serves_a_given_tty():
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    proc = subprocess.Popen([str(host_program()), "--tty", os.ttyname(slave)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == f"PORT {os.ttyname(slave)}"
        os.write(master, b"\x00" + P.Hello(seq=3).frame())
        decoder, got, deadline = FrameDecoder(), [], time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                got = decoder.feed(os.read(master, 4096))
        assert got and P.decode(got[0]).seq == 3
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
        os.close(master)
        os.close(slave)
        proc.stdout.close()
        proc.stderr.close()


def test_baud_pace_limits_the_output_rate():
    baud = 19200  # 1920 bytes/s
    requests = 40  # 40 TELEMETRY frames of 59 bytes: 2360 bytes, 1.23 s on the line
    with DeviceProcess([str(host_program()), "--baud-pace", str(baud)]) as dev:
        start = time.monotonic()
        dev.send(*[P.Status(seq=i) for i in range(requests)])
        answers = dev.receive(requests)
        elapsed = time.monotonic() - start
        wire_bytes = sum(len(a.frame()) for a in answers)
        assert elapsed >= 0.95 * wire_bytes * 10 / baud
        assert elapsed < 3 * wire_bytes * 10 / baud + 0.5
        assert dev.stop() == 0


@pytest.mark.parametrize("args", [["--baud-pace"], ["--idle-exit-s", "-1"], ["--device-id", "x"], ["--bogus"]])
def test_bad_arguments(args):
    done = subprocess.run([str(host_program()), *args], capture_output=True, text=True, timeout=10)
    assert done.returncode == 2
    assert "usage" in done.stderr or "kei_bms_host:" in done.stderr
