"""BMS logic of the emulated device, as docs/bms_model.md says: one step (1-8), SOC estimation by
coulomb counting with OCV correction at rest, debounced protections that latch and open the
contactor, trapezoid current derating, and the CONFIGURE / RESET / STOP state changes.

Pure computation on Python floats; the wire format is the device's business (`device.py`).
Current is positive on discharge.
"""
from __future__ import annotations

from kei.hil.emulator.pack import WEAKEST, OcvCurve, Pack
from kei.hil.wire.protocol import Configure, FaultFlag, FaultGroup, StepMode
from kei.units import SECONDS_PER_HOUR

UV, OV, OC_DIS, OC_CHG, OT, EMPTY = (int(f) for f in (FaultFlag.UNDERVOLTAGE, FaultFlag.OVERVOLTAGE,
                                                        FaultFlag.OVERCURRENT_DISCHARGE, FaultFlag.OVERCURRENT_CHARGE,
                                                        FaultFlag.OVERTEMPERATURE, FaultFlag.EMPTY))
PACK, TYPICAL = int(FaultGroup.PACK), int(FaultGroup.TYPICAL)
POWER = int(StepMode.POWER)
STEP_COUNT_MASK = 0xFFFFFFFF


def _unit(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


class Bms:
    """Pack model + BMS state. Built from an accepted CONFIGURE and OCV table.

    `step()` returns the faults that latched on that step as (flag, group, value) tuples, in bit order.
    """

    __slots__ = ("cfg", "curve", "pack", "series", "soc_estimate", "rest_s", "corrected", "fault_flags",
                 "contactor", "energy_out_wh", "last_seq", "step_count", "timers",
                 "_count_as", "_oc_dis_a", "_oc_chg_a", "_temp_span", "allowed_discharge_a", "allowed_charge_a")

    def __init__(self, cfg: Configure, ocv_mv):
        self.cfg = cfg
        self.curve = OcvCurve(ocv_mv)
        self.series = cfg.series
        self._count_as = cfg.capacity_ah * cfg.parallel * SECONDS_PER_HOUR / cfg.current_sensor_gain
        self._oc_dis_a = cfg.overcurrent_factor * cfg.max_discharge_a
        self._oc_chg_a = cfg.overcurrent_factor * cfg.max_charge_a
        self._temp_span = cfg.temp_max_c - cfg.temp_derate_c
        self.pack = Pack(cfg, self.curve)
        self.load(cfg.soc_true, cfg.soc_weak_true, cfg.soc_estimate, cfg.temperature_c, cfg.energy_out_wh,
                  cfg.last_seq, cfg.step_count)

    # ---- state changes ------------------------------------------------------------------------
    def load(self, soc_t, soc_w, soc_est, temp_c, energy_wh, last_seq, step_count) -> None:
        """The CONFIGURE state: RC voltages, timers, rest and current zero; faults clear, contactor closed."""
        self.pack.set_state(soc_t, soc_w, temp_c)
        self.soc_estimate = soc_est
        self.energy_out_wh = energy_wh
        self.last_seq = last_seq
        self.step_count = step_count
        self.rest_s = 0.0
        self.corrected = False
        self.clear_faults()

    def reset(self) -> None:
        """RESET 0: back to the CONFIGURE values with last_seq, step_count and the energy counter zero."""
        c = self.cfg
        self.load(c.soc_true, c.soc_weak_true, c.soc_estimate, c.temperature_c, 0.0, 0, 0)

    def clear_faults(self) -> None:
        """RESET 1 (and CONFIGURE): unlatch, zero the debounce timers, close the contactor."""
        self.fault_flags = 0
        self.timers = [0.0] * 5
        self.contactor = True
        self._derate()

    def stop(self) -> None:
        self.contactor = False
        self._derate()

    def set_curve(self, ocv_mv) -> None:
        """A new OCV table; before the first step the rest voltages follow it."""
        self.curve.__init__(ocv_mv)
        p = self.pack
        if p.current_a == 0.0 and p.vrc_t == 0.0 and p.vrc_w == 0.0:
            p.set_state(p.soc_t, p.soc_w, p.temp_c)
        self._derate()

    # ---- one step -----------------------------------------------------------------------------
    def step(self, seq: int, dt: float, mode: int, demand: float) -> list[tuple[int, int, float]]:
        cfg, pack = self.cfg, self.pack
        # 1. current
        if not self.contactor:
            current = 0.0
        elif mode == POWER:
            current = pack.current_for_power(demand)
        else:
            current = demand
        # 2-4. groups, pack, thermal
        pack.advance(dt, current)
        pack_v = pack.pack_voltage_v
        self.energy_out_wh += pack_v * current * dt / SECONDS_PER_HOUR
        # 5. SOC estimate
        self.soc_estimate -= current * dt / self._count_as
        if abs(current) < cfg.rest_current_a:
            self.rest_s += dt
        else:
            self.rest_s = 0.0
            self.corrected = False
        if self.rest_s >= cfg.rest_time_s and not self.corrected:
            self.corrected = True
            soc_ocv, slope = self.curve.inverse(pack_v / self.series)
            if slope >= cfg.ocv_min_slope_v:
                self.soc_estimate += cfg.ocv_gain * (soc_ocv - self.soc_estimate)
        # 6. protections
        latched = []
        v_min, _, g_min = pack.cell_min()
        v_max, _, g_max = pack.cell_max()
        checks = ((UV, v_min < cfg.cell_uv_v, cfg.debounce_voltage_s, g_min, v_min),
                  (OV, v_max > cfg.cell_ov_v, cfg.debounce_voltage_s, g_max, v_max),
                  (OC_DIS, current > self._oc_dis_a, cfg.debounce_current_s, PACK, current),
                  (OC_CHG, -current > self._oc_chg_a, cfg.debounce_current_s, PACK, current),
                  (OT, pack.temp_c > cfg.temp_max_c, cfg.debounce_temp_s, PACK, pack.temp_c))
        timers = self.timers
        for k, (flag, holds, debounce, group, value) in enumerate(checks):
            if holds:
                timers[k] += dt
                if timers[k] >= debounce and not self.fault_flags & flag:
                    self.fault_flags |= flag
                    latched.append((flag, group, value))
            else:
                timers[k] = 0.0
        if not self.fault_flags & EMPTY:
            if pack.soc_w <= 0.0:
                self.fault_flags |= EMPTY
                latched.append((EMPTY, WEAKEST, pack.soc_w))
            elif pack.n_typ and pack.soc_t <= 0.0:
                self.fault_flags |= EMPTY
                latched.append((EMPTY, TYPICAL, pack.soc_t))
        if self.fault_flags:
            self.contactor = False
        # 7. allowed currents, 8. counters
        self._derate()
        self.step_count = (self.step_count + 1) & STEP_COUNT_MASK  # a u32, as on the wire and in C
        self.last_seq = seq
        return latched

    def _derate(self) -> None:
        """Allowed currents for the next step (bms_model.md step 7), from the last step's state."""
        if not self.contactor:
            self.allowed_discharge_a = self.allowed_charge_a = 0.0
            return
        cfg, pack = self.cfg, self.pack
        i = pack.current_a
        v_min, r_min, _ = pack.cell_min()
        v_max, r_max, _ = pack.cell_max()
        f_t = _unit((cfg.temp_max_c - pack.temp_c) / self._temp_span)
        f_dis = _unit((v_min + i * r_min - cfg.cell_uv_v) / cfg.derate_window_v)
        f_chg = _unit((cfg.cell_ov_v - (v_max + i * r_max)) / cfg.derate_window_v)
        self.allowed_discharge_a = cfg.max_discharge_a * min(f_t, f_dis)
        self.allowed_charge_a = cfg.max_charge_a * min(f_t, f_chg)
