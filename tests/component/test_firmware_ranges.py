"""Issue 15, must fix 5 on the C stub: the CONFIGURE range table compiled in (kei_configure_ranges.h)
accepts exactly what the Python emulator accepts, refuses the issue's absurd values, and no accepted
configuration lets a protection go quiet (the same monitor as tests/unit/test_configure_ranges.py,
over the real program on a pty)."""
from __future__ import annotations

import dataclasses
import random

import pytest
from configure_fuzz import (
    GOOD,
    SETUP,
    STRANGE,
    ProtectionMonitor,
    on_the_wire,
    plausible_drive,
)
from firmware_support import DeviceProcess, host_program

from kei.hil.emulator.device import Device
from kei.hil.wire import protocol as P
from kei.hil.wire.configure_ranges import CONFIGURE_RANGES
from kei.hil.wire.framing import FrameDecoder

FUZZED_CONFIGURES = 600
DRIVEN_CONFIGURES = 25


def random_configure(rng: random.Random) -> P.Configure:
    """GOOD with up to 4 fields changed: to one end of their range, inside it, just beyond it, or
    to a strange value."""
    changes = {}
    for r in rng.sample(CONFIGURE_RANGES, rng.randint(0, 4)):
        inside = (r.low, r.high, rng.uniform(r.low, r.high), rng.uniform(r.low, r.high))
        beyond = (r.low - abs(r.low) * 1e-3 - 1e-3, r.high + abs(r.high) * 1e-3 + 1e-3)
        changes[r.name] = rng.choice(inside if rng.random() < 0.6 else beyond + STRANGE)
    if rng.random() < 0.1:
        changes["parallel"] = rng.choice((0, 1, 1000, 1001))
    return on_the_wire(dataclasses.replace(GOOD, **changes))


def python_answer(cfg: P.Configure) -> type:
    device, decoder = Device(device_id=1), FrameDecoder()
    (answer,) = [P.decode(b) for b in decoder.feed(device.feed(dataclasses.replace(cfg, seq=5).frame()))]
    return type(answer)


@pytest.fixture
def stub():
    with DeviceProcess([str(host_program()), "--unconfigured"]) as dev:
        assert isinstance(dev.request(SETUP.ocv_table), P.Ack)
        yield dev


def test_the_c_stub_accepts_exactly_what_the_emulator_accepts(stub):
    rng = random.Random(20261125)
    counts = {P.Ack: 0, P.Nack: 0}
    for _ in range(FUZZED_CONFIGURES):
        cfg = random_configure(rng)
        got = type(stub.request(dataclasses.replace(cfg, seq=5)))
        assert got is python_answer(cfg), (got, P.configure_errors(cfg, 1024))
        counts[got] += 1
    assert counts[P.Ack] > 50 and counts[P.Nack] > 200  # both sides of the table were reached


@pytest.mark.parametrize("field, value", [("cell_uv_v", -3.4e38), ("heat_capacity_j_per_k", 1e-45),
                                          ("r1_ohm", 3.4e38), ("debounce_temp_s", 1e30)])
def test_the_c_stub_refuses_the_issues_absurd_values(stub, field, value):
    assert isinstance(stub.request(dataclasses.replace(GOOD, seq=1)), P.Ack)
    nack = stub.request(on_the_wire(dataclasses.replace(GOOD, seq=2, **{field: value})))
    assert isinstance(nack, P.Nack) and nack.reason == P.NackReason.BAD_VALUE


def test_no_accepted_configure_disables_a_protection_on_the_c_stub(stub):
    rng = random.Random(7)
    driven = 0
    while driven < DRIVEN_CONFIGURES:
        cfg = random_configure(rng)
        if not isinstance(stub.request(dataclasses.replace(cfg, seq=5)), P.Ack):
            continue
        driven += 1
        monitor = ProtectionMonitor(cfg)
        for s in plausible_drive(cfg, seed=driven, steps=150):
            answers = [m for m in stub.run_steps([s]) if isinstance(m, P.Telemetry)]
            monitor.check(answers[-1], s.dt_s)
            if not answers[-1].contactor:
                assert isinstance(stub.request(P.Reset(60000, P.ResetWhat.CLEAR_FAULTS)), P.Ack)
                monitor.held.clear()
