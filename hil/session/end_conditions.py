"""When a bench run ends (docs/hil.md, "End conditions"). Checked on every logged step, in order:

1. `bms_cutoff`: the BMS opened its contactor (a latched protection: under-voltage, EMPTY, over-current,
   over-temperature ...). The step on which it latched counts: its current flowed.
2. `soc_floor`: the BMS's SOC estimate reached `session.soc_floor`: the driver sees an empty pack.
3. `derated`: the BMS has allowed less terminal power than it takes to cruise at
   `session.limp_speed_kmh` on the flat for `session.stranded_time_s` of driving in a row: the car
   cannot drive any more even though no protection tripped.
4. `max_cycles`: `session.max_cycles` repetitions of the cycle (a safety stop).
5. `step_limit`: `kei hil run --max-steps N` (a short smoke test of a new board, a benchmark).

Pure: fed the logged rows in order (live, or replayed from the log on resume), so a resumed
session ends exactly where an uninterrupted one would.
"""
from __future__ import annotations

from dataclasses import dataclass

from kei.hil.setup.bench_config import SessionSettings
from kei.hil.wire.protocol import FaultFlag

END_REASONS = ("bms_cutoff", "soc_floor", "derated", "max_cycles", "step_limit")


def fault_names(flags: int) -> list[str]:
    return [f.name.lower() for f in FaultFlag if flags & f]


@dataclass
class EndCheck:
    settings: SessionSettings
    stranded_power_w: float   # terminal power to cruise at the limp speed
    steps_per_cycle: int
    max_steps: int | None = None
    derated_s: float = 0.0

    def update(self, step: int, dt_s: float, t, p_max_w: float) -> tuple[str, str] | None:
        """`t`: the step's TELEMETRY; `p_max_w` the terminal power it allows. (reason, detail) or None."""
        s = self.settings
        if not t.contactor:
            names = ", ".join(fault_names(t.fault_flags)) or "no fault flag (STOP?)"
            return "bms_cutoff", (f"BMS opened the contactor on step {step}: {names} "
                                  f"(cell min {t.cell_v_min_v:.3f} V, {t.temperature_c:.1f} C)")
        if t.soc_estimate <= s.soc_floor:
            return "soc_floor", f"SOC estimate {t.soc_estimate:.4f} reached the floor {s.soc_floor:g} on step {step}"
        p_max = p_max_w
        self.derated_s = self.derated_s + dt_s if p_max < self.stranded_power_w else 0.0
        if self.derated_s >= s.stranded_time_s and self.derated_s > 0:
            return "derated", (f"for {self.derated_s:.0f} s the BMS allowed {p_max / 1000:.2f} kW or less, below the "
                               f"{self.stranded_power_w / 1000:.2f} kW to cruise at {s.limp_speed_kmh:g} km/h (step {step})")
        if step >= s.max_cycles * self.steps_per_cycle:
            return "max_cycles", f"{s.max_cycles} cycles driven without an end: safety stop"
        if self.max_steps is not None and step >= self.max_steps:
            return "step_limit", f"--max-steps {self.max_steps} reached"
        return None
