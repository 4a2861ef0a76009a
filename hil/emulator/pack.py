"""The emulated pack: OCV curve and the two-group Thevenin model of docs/bms_model.md (steps 1-4).

Scalar Python floats on purpose (no numpy): one step is a few dozen operations, and the per-call
overhead of numpy would dominate. Constants are derived once, when the pack is built from CONFIGURE.
Current is positive on discharge; V, A, ohm, s, Ah, C.
"""
from __future__ import annotations

import math
from typing import Sequence

from kei.hil.wire.protocol import Configure, FaultGroup
from kei.units import MV_PER_V, SECONDS_PER_HOUR

TYPICAL, WEAKEST = int(FaultGroup.TYPICAL), int(FaultGroup.WEAKEST)


class OcvCurve:
    """Open-circuit cell voltage against SOC: linear between equally spaced points from SOC 0 to 1."""

    __slots__ = ("v", "segments", "soc_step")

    def __init__(self, ocv_mv: Sequence[int]):
        self.v = [m / MV_PER_V for m in ocv_mv]
        self.segments = len(self.v) - 1
        self.soc_step = 1.0 / self.segments

    def ocv(self, soc: float) -> float:
        """OCV at `soc`, clamped to [0, 1] for the lookup only."""
        x = soc * self.segments
        if x <= 0.0:
            return self.v[0]
        if not x < self.segments:  # also NaN: a diverged state must not raise
            return self.v[-1]
        i = int(x)
        v = self.v
        return v[i] + (v[i + 1] - v[i]) * (x - i)

    def inverse(self, volt: float) -> tuple[float, float]:
        """(SOC at which the OCV is `volt`, clamped to [0, 1]; slope of that segment in V per unit SOC)."""
        v = self.v
        i = 0
        while i < self.segments - 1 and volt > v[i + 1]:
            i += 1
        dv = v[i + 1] - v[i]
        frac = min(1.0, max(0.0, (volt - v[i]) / dv))
        return (i + frac) * self.soc_step, dv / self.soc_step


class Pack:
    """`series` cell groups: `series - 1` identical typical ones (t) and one weakest (w).

    State: true SOCs, RC voltages, lumped temperature, and the last step's current and group voltages.
    """

    __slots__ = ("curve", "series", "n_typ", "q_t_as", "q_w_as", "r0_t", "r0_w", "r1_t", "r1_w", "tau1_s",
                 "r_source", "heat_r", "heat_capacity", "cooling", "ambient_c", "_dt", "_a",
                 "soc_t", "soc_w", "vrc_t", "vrc_w", "temp_c", "current_a", "v_t", "v_w")

    def __init__(self, cfg: Configure, curve: OcvCurve):
        self.curve = curve
        self.series = cfg.series
        self.n_typ = cfg.series - 1
        keep = 1.0 - cfg.capacity_spread
        q_t = cfg.capacity_ah * cfg.parallel
        self.q_t_as = q_t * SECONDS_PER_HOUR       # capacities in A s: SOC -= I dt / q
        self.q_w_as = q_t * keep * SECONDS_PER_HOUR
        self.r0_t = cfg.r0_ohm / cfg.parallel
        self.r0_w = self.r0_t / keep
        self.r1_t = cfg.r1_ohm / cfg.parallel
        self.r1_w = self.r1_t / keep
        self.tau1_s = cfg.tau1_s
        self.r_source = self.n_typ * self.r0_t + self.r0_w
        self.heat_r = self.n_typ * (self.r0_t + self.r1_t) + self.r0_w + self.r1_w
        self.heat_capacity = cfg.heat_capacity_j_per_k
        self.cooling = 1.0 / cfg.thermal_resistance_k_per_w
        self.ambient_c = cfg.ambient_c
        self._dt = math.nan
        self._a = 0.0
        self.set_state(cfg.soc_true, cfg.soc_weak_true, cfg.temperature_c)

    def set_state(self, soc_t: float, soc_w: float, temp_c: float) -> None:
        """At rest: RC voltages and current zero, group voltages = OCV."""
        self.soc_t, self.soc_w, self.temp_c = soc_t, soc_w, temp_c
        self.vrc_t = self.vrc_w = self.current_a = 0.0
        self.v_t = self.curve.ocv(soc_t)
        self.v_w = self.curve.ocv(soc_w)

    def current_for_power(self, power_w: float) -> float:
        """Current that draws terminal power `power_w` from the state at the start of the step (step 1)."""
        ocv = self.curve.ocv
        e = self.n_typ * (ocv(self.soc_t) - self.vrc_t) + ocv(self.soc_w) - self.vrc_w
        r = self.r_source  # > 0: CONFIGURE's range for r0_ohm starts above zero
        d = e * e - 4.0 * r * power_w
        if d < 0.0:
            return e / (2.0 * r)  # more than the pack can deliver: its maximum-power current
        denom = e + math.sqrt(d)
        # A source that has collapsed (E <= 0 after an absurd current) delivers nothing, as in C.
        return 2.0 * power_w / denom if denom > 0.0 else 0.0

    def advance(self, dt: float, current_a: float) -> None:
        """Groups and thermal state over one step at constant current (steps 2 and 4)."""
        if dt != self._dt:
            self._dt, self._a = dt, math.exp(-dt / self.tau1_s)
        a = self._a
        b = (1.0 - a) * current_a
        charge = current_a * dt
        ocv = self.curve.ocv
        self.soc_t -= charge / self.q_t_as
        self.soc_w -= charge / self.q_w_as
        self.vrc_t = a * self.vrc_t + self.r1_t * b
        self.vrc_w = a * self.vrc_w + self.r1_w * b
        self.v_t = ocv(self.soc_t) - current_a * self.r0_t - self.vrc_t
        self.v_w = ocv(self.soc_w) - current_a * self.r0_w - self.vrc_w
        self.current_a = current_a
        t = self.temp_c
        heat_w = current_a * current_a * self.heat_r
        self.temp_c = t + dt * (heat_w - (t - self.ambient_c) * self.cooling) / self.heat_capacity

    @property
    def pack_voltage_v(self) -> float:
        return self.n_typ * self.v_t + self.v_w

    @property
    def soc_true(self) -> float:
        """SOC of the typical group (of the only group when series = 1)."""
        return self.soc_t if self.n_typ else self.soc_w

    def cell_min(self) -> tuple[float, float, int]:
        """(lowest group voltage, that group's R0, group: 0 typical / 1 weakest); the weakest wins a tie."""
        if self.n_typ and self.v_t < self.v_w:
            return self.v_t, self.r0_t, TYPICAL
        return self.v_w, self.r0_w, WEAKEST

    def cell_max(self) -> tuple[float, float, int]:
        """(highest group voltage, that group's R0, group); the weakest group wins a tie."""
        if self.n_typ and self.v_t > self.v_w:
            return self.v_t, self.r0_t, TYPICAL
        return self.v_w, self.r0_w, WEAKEST
