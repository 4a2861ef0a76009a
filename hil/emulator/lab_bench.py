"""The battery on an emulated lab bench: the Python emulator's pack and BMS (`pack.py`, `bms.py`,
unchanged) with a programmable source/load on its terminals and a clock (docs/lab.md).

A real bench has no steps: the instrument holds a current until told otherwise and time passes.
So the pack here is advanced over *time* at the current the instrument drives, in sub-steps of at
most `MAX_SUBSTEP_S` through `Bms.step` in current mode, and the BMS front ends (JBD, Daly, CAN) and
the SCPI front end read the same object. Two clocks:

- `wall`: emulated time = wall time x `time_scale` (a real battery is `time_scale` 1); every read
  or command first brings the pack up to now, so it behaves like hardware, jitter included.
- `host`: time stands still until the host says `SYSTem:CLOCk:ADVance <s>` (an emulator-only SCPI
  command): a co-simulation step, so a CI run is fast and exactly reproducible.

Pure computation; no I/O. Current positive on discharge (the instrument sinks it).
"""
from __future__ import annotations

import time

from kei.hil.emulator.bms import Bms
from kei.hil.wire.protocol import Configure

MAX_SUBSTEP_S = 1.0  # the kei-protocol bench's step: the same integration the emulator does per STEP
SEQ_MOD = 1 << 16
CLOCKS = ("host", "wall")


class LabBench:
    def __init__(self, configure: Configure, ocv_mv, *, clock: str = "host", time_scale: float = 1.0,
                 clock_fn=time.monotonic):
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {CLOCKS}, got {clock!r}")
        self.configure = configure
        self.bms = Bms(configure, ocv_mv)
        self.clock = clock
        self.time_scale = time_scale
        self._clock_fn = clock_fn
        self._wall0 = clock_fn()
        self.time_s = 0.0           # emulated time since start
        self.output_on = False
        self.setpoint_a = 0.0       # battery current the instrument drives while on (discharge > 0)
        self.revision = 0           # bumped by every advance (CAN broadcasts follow it)
        self.latched: list[tuple[float, int, int, float]] = []  # (time, flag, group, value) of every latch
        self.output_events: list[tuple[float, bool]] = []
        self._seq = 0

    # ---- time ---------------------------------------------------------------------------------
    def advance(self, dt_s: float) -> None:
        """Let `dt_s` of emulated time pass at the present current."""
        while dt_s > 1e-12:
            h = min(dt_s, MAX_SUBSTEP_S)
            self._seq = (self._seq + 1) % SEQ_MOD
            for flag, group, value in self.bms.step(self._seq, h, 0, self.current_a()):
                self.latched.append((self.time_s + h, flag, group, value))
            self.time_s += h
            dt_s -= h
        self.revision += 1

    def sync(self) -> None:
        """Wall clock: bring the pack up to now (host clock: nothing to do)."""
        if self.clock == "wall":
            target = (self._clock_fn() - self._wall0) * self.time_scale
            if target > self.time_s:
                self.advance(target - self.time_s)

    # ---- the instrument's side ----------------------------------------------------------------
    def current_a(self) -> float:
        """What flows: the setpoint while the output is on and the BMS's contactor (FET) is closed."""
        return self.setpoint_a if self.output_on and self.bms.contactor else 0.0

    def set_output(self, on: bool) -> None:
        self.sync()
        if on != self.output_on:
            self.output_on = on
            self.output_events.append((self.time_s, on))

    def set_current(self, current_a: float) -> None:
        self.sync()
        self.setpoint_a = current_a

    def terminal_voltage_v(self) -> float:
        """At the instrument's terminals: the pack at the present current, 0 with the contactor open."""
        bms = self.bms
        if not bms.contactor:
            return 0.0
        p = bms.pack
        i = self.current_a()
        ocv = p.curve.ocv
        return p.n_typ * (ocv(p.soc_t) - i * p.r0_t - p.vrc_t) + ocv(p.soc_w) - i * p.r0_w - p.vrc_w

    # ---- what a BMS reports -------------------------------------------------------------------
    def cell_voltages_v(self) -> list[float]:
        """Every series group's voltage as the BMS last sampled it: the typical ones, the weakest last."""
        p = self.bms.pack
        return [p.v_t] * p.n_typ + [p.v_w]

    def cell_extremes(self) -> tuple[float, int, float, int]:
        """(min V, 1-based index, max V, index) over `cell_voltages_v`."""
        p = self.bms.pack
        weak = p.series
        v_min, g_min = p.cell_min()[0], p.cell_min()[2]
        v_max, g_max = p.cell_max()[0], p.cell_max()[2]
        return v_min, weak if g_min else 1, v_max, weak if g_max else 1

    @property
    def capacity_ah(self) -> float:
        return self.configure.capacity_ah * self.configure.parallel
