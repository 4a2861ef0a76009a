"""Issue 15, must fix 5 and 6 on the Python side: every CONFIGURE field has a physical range, NaN
included; no accepted CONFIGURE lets a protection go quiet; and the emulator survives whatever it
accepts. The C stub's side (the same table compiled in): tests/component/test_firmware_ranges.py."""
from __future__ import annotations

import dataclasses
import math

import pytest
from configure_fuzz import F32_MAX, GOOD, ROOT, SETUP, STRANGE, ProtectionMonitor, on_the_wire, plausible_drive
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kei.hil.emulator.device import MAX_SERIES, Device
from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.hil.wire import protocol as P
from kei.hil.wire.configure_ranges import CONFIGURE_RANGES, RANGES, f32_bound
from kei.hil.wire.framing import FrameDecoder
from kei.vehicle.files import load_vehicle


class Host:
    def __init__(self):
        self.device = Device(device_id=7)
        self.decoder = FrameDecoder()

    def send(self, *msgs):
        return [P.decode(b) for b in self.decoder.feed(self.device.feed(b"".join(m.frame() for m in msgs)))]

    def configure(self, cfg) -> bool:
        (answer,) = self.send(dataclasses.replace(cfg, seq=1))
        return isinstance(answer, P.Ack)


@pytest.mark.parametrize("field, value", [
    ("cell_uv_v", -3.4e38),               # the under-voltage protection off
    ("heat_capacity_j_per_k", 1e-45),     # temperature NaN: the over-temperature protection off
    ("r1_ohm", 3.4e38),                   # crashed the emulator (ZeroDivisionError)
    ("debounce_temp_s", 1e30), ("debounce_voltage_s", 1e30), ("overcurrent_factor", 1e30),
    ("cell_ov_v", 1e30), ("temp_max_c", 1e30), ("max_discharge_a", 3.4e38), ("current_sensor_gain", 1e-30),
    ("thermal_resistance_k_per_w", 1e-5),  # in range alone, but a thermal time constant of 1 s diverges
    ("ambient_c", math.nan), ("soc_true", math.nan)])
def test_absurd_configure_values_are_refused(field, value):
    host = Host()
    host.send(SETUP.ocv_table)
    assert host.configure(GOOD)
    assert not host.configure(dataclasses.replace(GOOD, **{field: value})), field
    assert P.configure_errors(dataclasses.replace(GOOD, **{field: value}), MAX_SERIES)


def test_every_field_but_the_counters_has_a_range_and_the_bundled_packs_fit_them():
    floats = [f.name for f in dataclasses.fields(P.Configure) if f.type == "float"]
    assert sorted(r.name for r in CONFIGURE_RANGES) == sorted(floats)
    for design in sorted((ROOT / "configs" / "designs").glob("*.toml")):
        cfg = pack_setup(load_vehicle(design), load_bms_config()).configure
        assert P.configure_errors(on_the_wire(cfg), MAX_SERIES) == [], design.name


def test_both_ends_of_every_range_are_accepted_and_just_beyond_refused():
    for r in CONFIGURE_RANGES:
        for value, ok in ((r.low, not r.low_open), (r.high, not r.high_open)):
            cfg = _consistent(dataclasses.replace(GOOD, **{r.name: f32_bound(value)}))
            if cfg is None:
                continue
            assert (P.configure_errors(on_the_wire(cfg), MAX_SERIES) == []) == ok, (r.name, value)
        for beyond in (r.low - abs(r.low) * 1e-6 - 1e-30, r.high + abs(r.high) * 1e-6 + 1e-30):
            cfg = on_the_wire(dataclasses.replace(GOOD, **{r.name: beyond}))
            assert P.configure_errors(cfg, MAX_SERIES), (r.name, beyond)


def _consistent(cfg: P.Configure) -> P.Configure | None:
    """`cfg` with its cross-field rules kept (uv < ov, derate < max, thermal time constant), or None."""
    if cfg.cell_uv_v >= cfg.cell_ov_v:
        return None
    if cfg.temp_max_c <= cfg.temp_derate_c:
        return None
    if cfg.heat_capacity_j_per_k * cfg.thermal_resistance_k_per_w < 60.0:
        cfg = dataclasses.replace(cfg, thermal_resistance_k_per_w=min(1000.0, 120.0 / cfg.heat_capacity_j_per_k))
    return cfg


def test_the_emulator_survives_its_step_counter_passing_2_to_the_32():
    """A HELLO after step_count passed 2^32 - 1 crashed the emulator (struct.error); it wraps, as in C."""
    host = Host()
    host.send(SETUP.ocv_table)
    assert host.configure(dataclasses.replace(GOOD, step_count=2**32 - 1, last_seq=7))
    (t,) = host.send(P.Step(8, 1.0, 1, 1000.0))
    assert isinstance(t, P.Telemetry) and t.step_count == 0
    (hello,) = host.send(P.Hello(9))
    assert isinstance(hello, P.HelloAck) and hello.step_count == 0 and hello.last_seq == 8


# ---- fuzzing: accepted configurations keep every protection, and never crash the emulator --------
def field_values(r):
    """Values for one field: its range's ends and middle (mostly), and the strange values of the issue."""
    lo, hi = r.low, r.high
    inside = st.sampled_from((lo, hi, 0.5 * (lo + hi), lo + (hi - lo) * 1e-3))
    return st.one_of(inside, inside, st.sampled_from(STRANGE))


@st.composite
def configures(draw):
    """A real pack's CONFIGURE with up to 4 fields changed (series and parallel too, sometimes)."""
    names = draw(st.lists(st.sampled_from([r.name for r in CONFIGURE_RANGES]), max_size=4, unique=True))
    changes = {name: draw(field_values(RANGES[name])) for name in names}
    if draw(st.integers(0, 9)) == 0:
        changes["series"] = draw(st.sampled_from((1, 2, MAX_SERIES, 0, 65535)))
        changes["parallel"] = draw(st.sampled_from((1, 1000, 0, 1001)))
    return on_the_wire(dataclasses.replace(GOOD, **changes))


@st.composite
def step_lists(draw, n=20):
    steps = []
    for seq in range(1, n + 1):
        dt = draw(st.sampled_from((1e-3, 0.5, 1.0, 10.0, 60.0)))
        mode = draw(st.sampled_from((0, 1)))
        demand = draw(st.sampled_from((0.0, 1.0, -1.0, 100.0, -100.0, 1e4, 1e5, -1e5, 1e9, F32_MAX, -F32_MAX)))
        steps.append(P.Step(seq, dt, mode, demand))
    return steps


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configures(), steps=step_lists())
@example(cfg=on_the_wire(dataclasses.replace(GOOD, r1_ohm=F32_MAX)),  # the crash, always tried
         steps=[P.Step(1, 1.0, 0, 0.0), P.Step(2, 1.0, 0, 0.0), P.Step(3, 1.0, 0, 1.0), P.Step(4, 1.0, 1, 0.0)])
def test_the_emulator_never_crashes_on_what_it_accepts(cfg, steps):
    """Any CONFIGURE, then any 20 steps (dt, mode, demand from tiny to the largest binary32): every
    request gets an answer, none raises. Before issue 15, r1_ohm = 3.4e38 raised ZeroDivisionError."""
    host = Host()
    host.send(SETUP.ocv_table)
    host.configure(cfg)
    for s in steps:
        answers = host.send(s)
        assert answers and isinstance(answers[-1], (P.Telemetry, P.Nack))
    assert isinstance(host.send(P.Hello(99))[0], P.HelloAck)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configures(), seed=st.integers(0, 10**6))
def test_no_accepted_configure_disables_a_protection_on_the_emulator(cfg, seed):
    """Fuzzed CONFIGUREs, each field from its range's ends, its middle and the issue's strange
    values: an accepted one keeps every threshold within its physical range, and over a plausible
    drive (overloads included) every protection still trips: no NaN, no fault condition that holds
    past its debounce unlatched."""
    host = Host()
    host.send(SETUP.ocv_table)
    if not host.configure(cfg):
        assert P.configure_errors(cfg, MAX_SERIES)
        return
    for r in CONFIGURE_RANGES:
        assert r.holds(getattr(cfg, r.name)), r.name
    monitor = ProtectionMonitor(cfg)
    for s in plausible_drive(cfg, seed):
        answers = [m for m in host.send(s) if isinstance(m, P.Telemetry)]
        monitor.check(answers[-1], s.dt_s)
        if not answers[-1].contactor:
            host.send(P.Reset(10_000 + s.seq, P.ResetWhat.CLEAR_FAULTS))  # and go on: protections trip again
            monitor.held.clear()  # RESET 1 restarts the debounce timers


def test_protocol_md_lists_every_range():
    text = (ROOT / "docs" / "protocol.md").read_text()
    for r in CONFIGURE_RANGES:
        assert f"| `{r.name}` | {r.text()} | {r.why} |" in text, f"docs/protocol.md: the range of {r.name}"
