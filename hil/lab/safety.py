"""The lab bench's safety layer (docs/lab.md, "Safety model").

1. Before any command: a setpoint is checked against the limits (current each way, step change, what
   the instrument can do) and refused with LimitBreach if outside them; the planner is given the
   same limits, so a refusal means a bug, never a normal run.
2. After every measurement: the instrument's V and I and the BMS's cells, temperatures and flags are
   checked (`check_reading`); a breach ends the run.
3. Every way out of a run (end condition, breach, BMS protection, a lost instrument or BMS link, an
   exception, Ctrl-C, SIGTERM) goes through `SafeState.make_safe` first: level 0, output off, and the
   output state read back; a dead link is reconnected and retried for `safe_off_timeout_s`. Only
   then is the row logged and the event written. A killed host is covered by the guard process
   (hil/lab/guard.py) and, where the instrument has one, its own watchdog.
"""
from __future__ import annotations

import time

from kei.hil.errors import InstrumentError, LimitBreach
from kei.hil.lab.bms_clients import BmsReading
from kei.hil.lab.config import Limits, SafetySettings

EPS_A = 1e-9


def check_setpoint(limits: Limits, current_a: float, previous_a: float, can_source: bool) -> None:
    if current_a > limits.max_discharge_a + EPS_A:
        raise LimitBreach("max_discharge_a", f"setpoint {current_a:.3f} A above limits.max_discharge_a "
                          f"{limits.max_discharge_a:g} A: not sent")
    if -current_a > limits.max_charge_a + EPS_A:
        raise LimitBreach("max_charge_a", f"setpoint {current_a:.3f} A beyond limits.max_charge_a "
                          f"{limits.max_charge_a:g} A: not sent")
    if current_a < -EPS_A and not can_source:
        raise LimitBreach("can_source", f"setpoint {current_a:.3f} A charges, and the instrument cannot source: not sent")
    if abs(current_a - previous_a) > limits.max_step_change_a + EPS_A:
        raise LimitBreach("max_step_change_a", f"setpoint change {previous_a:.3f} -> {current_a:.3f} A exceeds "
                          f"limits.max_step_change_a {limits.max_step_change_a:g} A: not sent")


def check_reading(limits: Limits, voltage_v: float, current_a: float, setpoint_a: float,
                  bms: BmsReading) -> LimitBreach | None:
    """The first limit a measurement breaks, or None. Current is checked only while it should flow."""
    checks = (
        ("min_pack_v", voltage_v < limits.min_pack_v, f"measured pack voltage {voltage_v:.3f} V below {limits.min_pack_v:g} V"),
        ("max_pack_v", voltage_v > limits.max_pack_v, f"measured pack voltage {voltage_v:.3f} V above {limits.max_pack_v:g} V"),
        ("min_cell_v", bms.cell_v_min_v < limits.min_cell_v,
         f"cell {bms.cell_min_index} at {bms.cell_v_min_v:.4f} V below {limits.min_cell_v:g} V"),
        ("max_cell_v", bms.cell_v_max_v > limits.max_cell_v,
         f"cell {bms.cell_max_index} at {bms.cell_v_max_v:.4f} V above {limits.max_cell_v:g} V"),
        ("max_temp_c", bms.temp_max_c > limits.max_temp_c, f"temperature {bms.temp_max_c:.1f} C above {limits.max_temp_c:g} C"),
        ("current_tolerance_a", abs(current_a - setpoint_a) > limits.current_tolerance_a,
         f"measured current {current_a:.3f} A, setpoint {setpoint_a:.3f} A: more than {limits.current_tolerance_a:g} A apart"),
        ("max_discharge_a", current_a > limits.max_discharge_a + limits.current_tolerance_a,
         f"measured current {current_a:.3f} A above limits.max_discharge_a"),
        ("max_charge_a", -current_a > limits.max_charge_a + limits.current_tolerance_a,
         f"measured charge current {-current_a:.3f} A above limits.max_charge_a"),
    )
    for name, broken, text in checks:
        if broken:
            return LimitBreach(name, f"limit {name}: {text}")
    return None


def check_ratings(limits: Limits, model, file: str) -> None:
    """The limits must lie within what the instrument is rated for (scpi_models.py)."""
    from kei.errors import ConfigError

    if limits.max_pack_v > model.max_voltage_v:
        raise ConfigError(file, "limits.max_pack_v", f"{limits.max_pack_v:g} V is above the {model.name}'s rating "
                          f"{model.max_voltage_v:g} V")
    if limits.max_discharge_a > model.max_current_a:
        raise ConfigError(file, "limits.max_discharge_a", f"{limits.max_discharge_a:g} A is above the {model.name}'s "
                          f"rating {model.max_current_a:g} A")
    if model.can_source and limits.max_charge_a > model.max_current_a:
        raise ConfigError(file, "limits.max_charge_a", f"{limits.max_charge_a:g} A is above the {model.name}'s rating")


class SafeState:
    """Puts the instrument's output off, whatever state its link is in, and says how that went."""

    def __init__(self, instrument, settings: SafetySettings, log=None):
        self.instrument = instrument
        self.settings = settings
        self.log = log
        self.done = False

    def make_safe(self, reason: str, step: int) -> bool:
        """Level 0 and output off, read back; reconnect and retry on a dead link. True when verified.
        Writes `safe_state` (or `safe_state_failed`) to the log, after the instrument is safe."""
        inst = self.instrument
        deadline = time.monotonic() + self.settings.safe_off_timeout_s
        tries = 0
        last_error = None
        while True:
            tries += 1
            try:
                if tries > 1:
                    inst.close()
                    inst.open()
                inst.output(False)
                inst.set_current(0.0)
                if not inst.output_is_on():
                    self.done = True
                    if self.log is not None:
                        self.log.event("safe_state", step=step, reason=reason, output="off", tries=tries)
                        self.log.flush()
                    return True
                last_error = "the output still reads ON"
            except InstrumentError as err:
                last_error = str(err)
            if time.monotonic() >= deadline:
                break
            time.sleep(self.settings.retry_interval_s)
        if self.log is not None:
            self.log.event("safe_state_failed", step=step, reason=reason, tries=tries, error=last_error,
                           note="SWITCH THE INSTRUMENT OUTPUT OFF BY HAND")
            self.log.flush()
        return False
