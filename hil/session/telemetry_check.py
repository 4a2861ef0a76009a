"""Is a TELEMETRY believable as the answer to step k? The host checks every answer before it counts.

CRC-16 lets about 5 in a million corrupted frames through at a bit error rate of 1e-2, and a broken
device can send anything: a NaN pack voltage, `contactor = 2` (which reads as closed), a fault with
the contactor still closed. Such an answer is not logged; the step is asked again (the device answers
from its cache, protocol.md section 3), and only the same bad answer again and again ends the session
with the device named. `step_count` must be the step's own number: a device that counts differently
(or an answer that is not what it seems) is caught on the first step.

Pure: a message and numbers in, a reason (or None) out.
"""
from __future__ import annotations

import math

from kei.hil.wire.protocol import FaultFlag, Telemetry

STEP_COUNT_MOD = 1 << 32    # step_count is a u32 on the wire
KNOWN_FAULTS = sum(int(f) for f in FaultFlag)
# Measured on every device; the true SOCs are NaN on real hardware (docs/protocol.md) but never infinite.
MEASURED = ("pack_voltage_v", "pack_current_a", "soc_estimate", "cell_v_min_v", "cell_v_max_v", "temperature_c",
            "allowed_discharge_a", "allowed_charge_a", "energy_out_wh")
TRUE_SOCS = ("soc_true", "soc_weak_true")
# The allowed currents travel as binary32: they may exceed the host's binary64 limit by rounding.
F32_RELATIVE = 2.0 ** -23


def telemetry_problem(t: Telemetry, step: int, max_discharge_a: float, max_charge_a: float) -> str | None:
    """Why `t` cannot be the device's answer to global step `step` (None: it can)."""
    if t.step_count != step % STEP_COUNT_MOD:
        return f"step_count {t.step_count}, expected {step % STEP_COUNT_MOD}"
    if t.contactor not in (0, 1):
        return f"contactor = {t.contactor} (protocol v1: 0 open, 1 closed)"
    if t.fault_flags & ~KNOWN_FAULTS:
        return f"fault_flags {t.fault_flags:#06x} has bits protocol v1 does not define"
    if t.fault_flags and t.contactor:
        return f"fault_flags {t.fault_flags:#06x} latched with the contactor closed (any fault opens it)"
    if t.reserved:
        return f"reserved byte = {t.reserved}, protocol v1 sends 0"
    for name in MEASURED:
        value = getattr(t, name)
        if not math.isfinite(value):
            return f"{name} = {value}"
    for name in TRUE_SOCS:
        if math.isinf(getattr(t, name)):
            return f"{name} = {getattr(t, name)}"
    if t.cell_v_min_v > t.cell_v_max_v:
        return f"cell_v_min_v {t.cell_v_min_v} > cell_v_max_v {t.cell_v_max_v}"
    for name, limit in (("allowed_discharge_a", max_discharge_a), ("allowed_charge_a", max_charge_a)):
        value = getattr(t, name)
        if not 0.0 <= value <= limit * (1.0 + F32_RELATIVE):
            return f"{name} = {value} outside [0, {limit:g}] (CONFIGURE's limit)"
        if value > 0.0 and not t.contactor:
            return f"{name} = {value} with the contactor open"
    return None
