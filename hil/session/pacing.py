"""Pacing of the steps against absolute deadlines (python-can MessageSync style): step k may leave
no earlier than `start + (simulated time before step k) / speedup`. Sleeping per step would let
the drift of every sleep add up; deadlines do not drift, and a late step is sent at once (the
device integrates each step's own dt, so catching up changes nothing physical).

`--pace max` sends as fast as the window allows, `realtime` at 1x, `xN` at N times real time.
"""
from __future__ import annotations

import math
import time

from kei.errors import UsageError


def parse_pace(text: str) -> float:
    """'max' -> inf, 'realtime' -> 1.0, 'x10' / 'x0.5' -> the factor. UsageError otherwise."""
    t = text.strip().lower()
    if t == "max":
        return math.inf
    if t == "realtime":
        return 1.0
    if t.startswith("x"):
        try:
            factor = float(t[1:])
        except ValueError:
            factor = float("nan")
        if math.isfinite(factor) and factor > 0:
            return factor
    raise UsageError("--pace", f"expected max, realtime or xN with N > 0 (e.g. x10), got {text!r}")


def pace_name(speedup: float) -> str:
    return "max" if math.isinf(speedup) else "realtime" if speedup == 1.0 else f"x{speedup:g}"


class Pacer:
    """Deadlines for steps given the simulated time (s) at which each starts."""

    def __init__(self, speedup: float, clock=time.monotonic):
        self.speedup = speedup
        self.clock = clock
        self._origin_wall = 0.0
        self._origin_sim_s = 0.0

    @property
    def unpaced(self) -> bool:
        return math.isinf(self.speedup)

    def rebase(self, sim_time_s: float) -> None:
        """Make `sim_time_s` due now (at the start, after a resume or a reconnect)."""
        self._origin_wall = self.clock()
        self._origin_sim_s = sim_time_s

    def deadline(self, sim_time_s: float) -> float:
        """Wall-clock time (the pacer's clock) at which the step starting at `sim_time_s` is due."""
        if self.unpaced:
            return -math.inf
        return self._origin_wall + (sim_time_s - self._origin_sim_s) / self.speedup
