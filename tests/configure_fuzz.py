"""Shared by the CONFIGURE range tests of both devices (tests/unit/test_configure_ranges.py for the
Python emulator, tests/component/test_firmware_ranges.py for the C stub): a real pack's CONFIGURE,
the strange values of issue 15, a plausible drive, and the monitor of what working protections show."""
from __future__ import annotations

import math
import random
from pathlib import Path

from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.hil.wire import protocol as P
from kei.vehicle.files import load_vehicle

ROOT = Path(__file__).resolve().parents[1]
SETUP = pack_setup(load_vehicle(ROOT / "configs" / "designs" / "sakura_pack.toml"), load_bms_config())
GOOD = SETUP.configure
F32_MAX = 3.4028234663852886e38
TELEMETRY_FLOATS = ("pack_voltage_v", "pack_current_a", "soc_estimate", "soc_true", "soc_weak_true", "cell_v_min_v",
                    "cell_v_max_v", "temperature_c", "allowed_discharge_a", "allowed_charge_a", "energy_out_wh")
STRANGE = (math.nan, math.inf, -math.inf, F32_MAX, -F32_MAX, 1e-45, -1e-45, 0.0, -1.0, 1e30)


def on_the_wire(cfg: P.Configure) -> P.Configure:
    """What a device decodes: every float rounded to binary32."""
    return P.decode(cfg.encode())


def plausible_drive(cfg: P.Configure, seed: int, steps: int = 400):
    """Demands a real bench could send this pack: currents up to 3x its over-current threshold
    (beyond every limit, on purpose), charge as well as discharge, rests, steps of 1 ms to 60 s."""
    rng = random.Random(seed)
    limit = cfg.overcurrent_factor * max(cfg.max_discharge_a, cfg.max_charge_a)
    for seq in range(1, steps + 1):
        dt = rng.choice((0.1, 1.0, 1.0, 10.0, 60.0))
        current = rng.choice((0.0, rng.uniform(-3, 3) * limit, rng.uniform(0, 1) * cfg.max_discharge_a))
        yield P.Step(seq, dt, 0, current)


class ProtectionMonitor:
    """What the telemetry must show if every protection works: finite measurements, and each fault
    latched once its condition held (by a margin, against binary32 rounding) longer than its
    debounce plus a step."""

    def __init__(self, cfg: P.Configure):
        self.cfg = cfg
        self.held = {}

    def check(self, t: P.Telemetry, dt: float) -> None:
        c = self.cfg
        for name in TELEMETRY_FLOATS:
            assert math.isfinite(getattr(t, name)), f"{name} = {getattr(t, name)}: a comparison with NaN never trips"
        conditions = (
            (P.FaultFlag.UNDERVOLTAGE, t.cell_v_min_v < c.cell_uv_v - 1e-3, c.debounce_voltage_s),
            (P.FaultFlag.OVERVOLTAGE, t.cell_v_max_v > c.cell_ov_v + 1e-3, c.debounce_voltage_s),
            (P.FaultFlag.OVERCURRENT_DISCHARGE,
             t.pack_current_a > c.overcurrent_factor * c.max_discharge_a * (1 + 1e-4) + 1e-3, c.debounce_current_s),
            (P.FaultFlag.OVERCURRENT_CHARGE,
             -t.pack_current_a > c.overcurrent_factor * c.max_charge_a * (1 + 1e-4) + 1e-3, c.debounce_current_s),
            (P.FaultFlag.OVERTEMPERATURE, t.temperature_c > c.temp_max_c + 1e-3, c.debounce_temp_s),
        )
        for flag, holds, debounce in conditions:
            self.held[flag] = self.held.get(flag, 0.0) + dt if holds else 0.0
            if self.held[flag] > debounce + dt and t.contactor:
                raise AssertionError(f"{flag.name} held {self.held[flag]:g} s (debounce {debounce:g} s) and did "
                                     "not latch")
        if (t.soc_weak_true <= 0.0 or t.soc_true <= 0.0) and t.contactor:
            raise AssertionError("a group is empty and EMPTY did not open the contactor")
