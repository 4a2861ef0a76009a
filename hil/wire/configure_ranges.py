"""The physical range of every CONFIGURE field: one table, checked by the host before it sends a
CONFIGURE (`kei.hil.setup.pack_setup`, a restore), by the Python emulator before it accepts one, and
compiled into the C stub (`firmware_stubs/include/kei_configure_ranges.h`, generated from this table
by `python3 -m kei.hil.firmware.ranges_header`; a test fails when the two differ).

Why ranges and not just "positive": a CONFIGURE is the BMS calibration, so a value outside what any
cell or pack can have turns a protection off (an under-voltage threshold of -3.4e38 V never trips;
a heat capacity of 1e-45 J/K makes the temperature diverge to NaN, and no NaN is ever above the
over-temperature limit). Every bound below is wide enough for any real cell, from a coin cell to a
bus pack, and narrow enough that each protection can still trip; the reason is beside it. A device
compares the binary32 value it received with the binary32 nearest the bound (`f32_bound`), so the
Python emulator and the C stub accept exactly the same messages. NaN fails every comparison.

Pure data. Bounds are inclusive unless marked open.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass

MAX_STEP_DT_S = 60.0   # protocol.md section 3: a STEP's dt_s is in (0, 60]; the debounce bound below


@dataclass(frozen=True)
class FieldRange:
    name: str
    low: float
    high: float
    unit: str
    why: str
    low_open: bool = False   # low < x (else low <= x)
    high_open: bool = False  # x < high (else x <= high)

    def holds(self, x: float) -> bool:
        lo, hi = f32_bound(self.low), f32_bound(self.high)
        return (lo < x if self.low_open else lo <= x) and (x < hi if self.high_open else x <= hi)

    def text(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'} {self.unit}"


def f32_bound(x: float) -> float:
    """The binary32 nearest `x`: what the C stub's float literal (or float product) holds; beyond
    the largest binary32, infinity, as in C."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


# Integer fields: series is bounded by the device's max_series (HELLO_ACK), the others below.
PARALLEL_MAX = 1000  # estimate: Tesla's 18650 packs run 74 cells in parallel; 1000 covers any pack of small cells

CONFIGURE_RANGES: tuple[FieldRange, ...] = (
    FieldRange("capacity_ah", 0.01, 2000.0, "Ah", "a cell: from a 40 mAh coin cell to the largest prismatic "
               "storage cells (~1000 Ah)"),
    FieldRange("r0_ohm", 1e-5, 10.0, "ohm", "a cell's ohmic resistance: 0.1 mOhm (large prismatic) to ~10 ohm "
               "(coin cell); zero would make the power-mode current unbounded"),
    FieldRange("r1_ohm", 0.0, 10.0, "ohm", "RC-branch resistance: at most the size of R0's range (0: no RC branch)"),
    FieldRange("tau1_s", 0.1, 3600.0, "s", "RC time constant: diffusion in cells is 1 s to minutes"),
    FieldRange("capacity_spread", 0.0, 0.5, "-", "weakest group's capacity deficit (protocol.md)", high_open=True),
    FieldRange("cell_uv_v", 1.0, 4.5, "V", "under-voltage threshold: no chemistry is usable below 1 V (sodium-ion and "
               "LTO stop at 1.5 V) or cuts off above 4.5 V; outside, the protection never trips or always does"),
    FieldRange("cell_ov_v", 1.5, 5.0, "V", "over-voltage threshold: LTO charges to 2.8 V, LMNO to 4.9 V; above 5 V "
               "the protection is off"),
    FieldRange("derate_window_v", 0.001, 1.0, "V", "derating width: a few mV (a step) to 1 V"),
    FieldRange("max_discharge_a", 0.01, 10000.0, "A", "pack peak current: 10 kA is beyond any road vehicle (~1.5 kA)"),
    FieldRange("max_charge_a", 0.0, 10000.0, "A", "pack charge current (0: no regeneration)"),
    FieldRange("overcurrent_factor", 1.0, 10.0, "-", "over-current fault above this multiple of the limits; beyond 10x "
               "the protection is off in practice"),
    FieldRange("temp_derate_c", -40.0, 100.0, "C", "derating starts between the coldest operating limit and 100 C"),
    FieldRange("temp_max_c", 20.0, 100.0, "C", "over-temperature fault: cells are rated to 45-80 C; above 100 C the "
               "protection is off (separator melt ~130 C)"),
    FieldRange("heat_capacity_j_per_k", 1.0, 1e8, "J/K", "whole pack: 1 J/K (a coin cell) to 1e8 J/K (a 100 t pack)"),
    FieldRange("thermal_resistance_k_per_w", 1e-5, 1000.0, "K/W", "pack to ambient: liquid-cooled pack to a cell in "
               "still air"),
    FieldRange("ambient_c", -50.0, 80.0, "C", "ambient: the coldest and hottest places a bench stands"),
    FieldRange("debounce_voltage_s", 0.0, MAX_STEP_DT_S, "s", "UV/OV debounce: production BMSs use ms to a few s; a "
               "debounce longer than a minute switches the protection off"),
    FieldRange("debounce_current_s", 0.0, MAX_STEP_DT_S, "s", "over-current debounce (as above)"),
    FieldRange("debounce_temp_s", 0.0, MAX_STEP_DT_S, "s", "over-temperature debounce (as above)"),
    FieldRange("rest_current_a", 0.0, 10000.0, "A", "rest detection threshold, within the current range"),
    FieldRange("rest_time_s", 0.0, 86400.0, "s", "rest before an OCV correction: up to a day"),
    FieldRange("ocv_gain", 0.0, 1.0, "-", "share of the OCV correction applied (protocol.md)"),
    FieldRange("ocv_min_slope_v", 0.0, 100.0, "V", "per unit SOC; the steepest OCV segment of any chemistry is ~35 V"),
    FieldRange("current_sensor_gain", 0.5, 1.5, "-", "the coulomb counter's gain error: a sensor off by more than "
               "50 % is broken"),
    FieldRange("soc_true", 0.0, 1.0, "-", "state of charge"),
    FieldRange("soc_estimate", 0.0, 1.0, "-", "state of charge"),
    FieldRange("temperature_c", -50.0, 120.0, "C", "pack temperature at start (a restore after a hot run included)"),
    FieldRange("energy_out_wh", -1e9, 1e9, "Wh", "energy counter at start (a restore carries it; regeneration can make "
               "it negative)"),
    FieldRange("soc_weak_true", 0.0, 1.0, "-", "state of charge"),
)
RANGES = {r.name: r for r in CONFIGURE_RANGES}

# Across fields. The thermal model is explicit Euler: T - ambient shrinks by (1 - dt / tau) per step,
# tau = heat capacity x thermal resistance; with tau below the longest step (60 s) a step overshoots
# and with tau below half of it the temperature diverges to infinity, then NaN.
MIN_THERMAL_TIME_CONSTANT_S = MAX_STEP_DT_S
