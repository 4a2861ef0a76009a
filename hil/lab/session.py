"""The lab session: drive a design on a real battery (or the emulated bench) through a programmable
source/load, read a production BMS, log every step, stop at an end condition (docs/lab.md).

Per step k, one at a time (a production BMS takes no drive profile and answers no step numbers):
- plan: the car's demand for k (`drive.Car.plan`, the same energy model run as the kei-protocol
  bench) within what the last logged row allows: the BMS's limits (CAN: its DCL/CCL; JBD and Daly
  report none, so the host derates as bms_model.md step 7 does, from the reported cells and
  temperature), the lab limits and the setpoint's step change. The power becomes a current with
  the pack's source voltage from the last measurement, E = V + I R0; a regen step charges where the
  instrument can source and is skipped (0 A, friction brakes) where it cannot;
- check the setpoint against the limits, send it; the step lasts dt (wall clock: until its
  absolute deadline; the emulator's host clock: SYSTem:CLOCk:ADVance dt);
- measure V and I on the instrument, read the BMS; check the limits on the reading;
- at an end condition: output off first, then log; else log the row (lab.csv, then steps.csv).
"""
from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass

from kei.hil.lab.bms_clients import BmsClient, BmsReading
from kei.hil.lab.config import LabConfig
from kei.hil.lab.lab_log import LabLog
from kei.hil.lab.safety import SafeState, check_reading, check_setpoint
from kei.hil.log.session_log import SEQ_MOD, LogWriter, format_row
from kei.hil.session.end_conditions import fault_names
from kei.hil.session.session import ResumePoint
from kei.hil.wire.protocol import Configure, Telemetry

NAN = float("nan")


class Terminated(KeyboardInterrupt):
    """SIGTERM: handled like Ctrl-C (output off, then stop), so `kill PID` is as safe as Ctrl-C."""


def _unit(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


@dataclass(frozen=True)
class PackModel:
    """What the host knows of the pack from the design (the same pack setup the emulator is built from)."""

    r0_ohm: float        # pack ohmic resistance: E = V + I R0
    r0_weak_ohm: float   # one group's R0, weakest and typical
    r0_typ_ohm: float
    cell_uv_v: float
    cell_ov_v: float
    derate_window_v: float
    temp_derate_c: float
    temp_max_c: float
    max_discharge_a: float
    max_charge_a: float

    @classmethod
    def from_configure(cls, c: Configure) -> "PackModel":
        r0_t = c.r0_ohm / c.parallel
        r0_w = r0_t / (1.0 - c.capacity_spread)
        return cls((c.series - 1) * r0_t + r0_w, r0_w, r0_t, c.cell_uv_v, c.cell_ov_v, c.derate_window_v,
                   c.temp_derate_c, c.temp_max_c, c.max_discharge_a, c.max_charge_a)

    def allowed(self, r: BmsReading, current_a: float) -> tuple[float, float]:
        """The BMS's limits when it reports them, else the host's derating (bms_model.md step 7)."""
        if not r.contactor:
            return 0.0, 0.0
        if r.allowed_discharge_a is not None:
            return r.allowed_discharge_a, r.allowed_charge_a
        f_t = _unit((self.temp_max_c - r.temp_max_c) / (self.temp_max_c - self.temp_derate_c))
        f_dis = _unit((r.cell_v_min_v + current_a * self.r0_weak_ohm - self.cell_uv_v) / self.derate_window_v)
        f_chg = _unit((self.cell_ov_v - (r.cell_v_max_v + current_a * self.r0_typ_ohm)) / self.derate_window_v)
        return self.max_discharge_a * min(f_t, f_dis), self.max_charge_a * min(f_t, f_chg)

    def current_for_power(self, power_w: float, e_v: float) -> float:
        r = self.r0_ohm
        if r <= 0.0:
            return power_w / e_v
        d = e_v * e_v - 4.0 * r * power_w
        if d < 0.0:
            return e_v / (2.0 * r)
        return 2.0 * power_w / (e_v + math.sqrt(d))

    def power_for_current(self, current_a: float, e_v: float) -> float:
        return current_a * (e_v - current_a * self.r0_ohm)


class LabSession:
    def __init__(self, *, config: LabConfig, parts, pack: PackModel, instrument, bms: BmsClient, log: LogWriter,
                 lab_log: LabLog, pacer, start: ResumePoint | None = None, progress=None):
        """`parts`: profile, car, end (EndCheck) and limits_of(telemetry) -> StepLimits, as the
        kei-protocol session is given them (hil/session/runner.py)."""
        self.cfg = config
        self.limits_of = parts.limits_of
        self.profile = parts.profile
        self.car = parts.car
        self.end_check = parts.end
        self.pack = pack
        self.inst = instrument
        self.bms = bms
        self.log = log
        self.lab_log = lab_log
        self.pacer = pacer
        self.progress = progress
        self.safe = SafeState(instrument, config.safety, log)
        self.host_clock = config.clock == "host"
        self.can_source = instrument.can_source
        st = start or ResumePoint()
        self.logged = st.logged_step
        self.car_speed = st.speed_mps
        self.distance_m = st.distance_m
        self.time_s = st.time_s
        self.wall_offset_s = st.wall_s
        self.last_tel = st.last_tel
        self.end = st.end
        self.energy_wh = st.last_tel.energy_out_wh if st.last_tel else 0.0
        self._last_flags = st.last_tel.fault_flags if st.last_tel else 0
        self._t0 = time.monotonic()
        self.e_v = NAN             # the pack's source voltage, from the last measurement
        self.setpoint_a = 0.0      # what the instrument holds now
        self.timing = dict.fromkeys(("plan", "instrument", "bms", "log"), 0.0)  # seconds per backend (bench/lab.py)
        self.regen_skipped = 0
        self._last_stats = 0.0

    # ---- top level ----------------------------------------------------------------------------
    def run(self) -> tuple[str, str]:
        """Drive to an end condition; returns (reason, detail). Any error, Ctrl-C or SIGTERM: output
        off first, then the event, then the exception goes on."""
        old = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, self._terminate)
        try:
            self._connect()
            if self.end is None:
                self._drive()
            else:
                self.safe.make_safe(f"end: {self.end[0]}", self.logged)
            return self.end
        except BaseException as exc:
            kind = "interrupted" if isinstance(exc, KeyboardInterrupt) else "aborted"
            why = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else str(exc)
            if not self.safe.done:
                self.safe.make_safe(f"{kind}: {why}", self.logged)
            self.log.event(kind, step=self.logged, error=why)
            self.log.flush()
            raise
        finally:
            self._stats_event(force=True)
            signal.signal(signal.SIGTERM, old)

    def _stats_event(self, force: bool = False) -> None:
        """`link_stats` (hil/log/summary.py reads elapsed_s from it), about once a second."""
        now = time.monotonic()
        if force or now - self._last_stats >= 1.0:
            self._last_stats = now
            self.log.event("link_stats", step=self.logged, elapsed_s=round(self._elapsed(), 3),
                           timing_s={k: round(v, 4) for k, v in self.timing.items()})

    def _terminate(self, signum, frame):
        raise Terminated()

    def _elapsed(self) -> float:
        return self.wall_offset_s + time.monotonic() - self._t0

    def _connect(self) -> None:
        idn = self.inst.open()
        self.inst.configure()              # output off, constant current, level 0
        self.bms.open()
        self.log.event("instrument", resource=self.inst.resource, idn=idn, model=self.inst.model.name,
                       can_source=self.can_source, clock=self.cfg.clock)
        v, i, reading = self._measure(cells=True)
        self.log.event("bms", protocol=self.bms.protocol, port=self.bms.port, cells=len(reading.cells_v),
                       cells_v=reading.cells_v)
        breach = check_reading(self.cfg.limits, v, i, 0.0, reading)
        if breach is not None:  # nothing was switched on: refuse to start
            self.safe.make_safe(f"start refused: {breach}", self.logged)
            raise breach
        self.e_v = v + i * self.pack.r0_ohm
        if self.logged < 0:
            tel = self._telemetry(0, v, i, reading)
            s0 = self.profile.speed_start_list[0]
            self._log_row(0, (0, 0, 0.0, 0.0, s0, s0, 0.0, 0.0, 0, 0.0), tel, reading, 0.0, 0)
        else:
            self.log.event("resume_state", step=self.logged, pack_voltage_v=v, current_a=i, soc=reading.soc,
                           cell_v_min_v=reading.cell_v_min_v, temperature_c=reading.temp_max_c)
        if self.end is None:
            self.inst.output(True)
            self.log.event("output_on", step=self.logged)
        self.log.flush()
        self.pacer.rebase(self.time_s)

    def _measure(self, cells: bool = False) -> tuple[float, float, BmsReading]:
        t = time.perf_counter()
        v, i = self.inst.measure()
        t1 = time.perf_counter()
        reading = self.bms.read(cells)
        self.timing["instrument"] += t1 - t
        self.timing["bms"] += time.perf_counter() - t1
        return v, i, reading

    def _telemetry(self, step: int, v: float, i: float, r: BmsReading) -> Telemetry:
        allowed_dis, allowed_chg = self.pack.allowed(r, i)
        lim = self.cfg.limits
        return Telemetry(seq=step % SEQ_MOD, step_count=step, pack_voltage_v=v, pack_current_a=i, soc_estimate=r.soc,
                         soc_true=NAN, cell_v_min_v=r.cell_v_min_v, cell_v_max_v=r.cell_v_max_v,
                         temperature_c=r.temp_max_c, allowed_discharge_a=min(allowed_dis, lim.max_discharge_a),
                         allowed_charge_a=min(allowed_chg, lim.max_charge_a) if self.can_source else 0.0,
                         energy_out_wh=self.energy_wh, soc_weak_true=NAN, fault_flags=r.fault_flags,
                         contactor=int(r.contactor))

    # ---- one step at a time -------------------------------------------------------------------
    def _plan(self, k: int):
        """(plan tuple as steps.csv wants it, current setpoint, regen skipped)."""
        n = self.profile.steps
        cycle, i = divmod(k - 1, n)
        lim = self.limits_of(self.last_tel)
        e = self.e_v
        d = self.cfg.limits.max_step_change_a
        p_max = min(lim.p_max_w, self.pack.power_for_current(self.setpoint_a + d, e))
        p_min = max(lim.p_min_w, self.pack.power_for_current(self.setpoint_a - d, e))
        sp = self.car.plan(i, self.car_speed, p_max, p_min)
        regen_skipped = 0
        if not self.can_source and sp.demand_w <= 0.0 and self.profile.demand_list[i] < 0.0:
            regen_skipped = 1
        # The planner stayed within these; the clamp only removes rounding, so check_setpoint
        # refusing a setpoint means a bug, never a normal run.
        lo = max(-self.cfg.limits.max_charge_a if self.can_source else 0.0, self.setpoint_a - d)
        hi = min(self.cfg.limits.max_discharge_a, self.setpoint_a + d)
        current = min(max(self.pack.current_for_power(sp.demand_w, e), lo), hi)
        dt = self.profile.dt_list[i]
        limited = int(sp.limited and not regen_skipped)
        plan = (cycle, i, self.time_s + dt, dt, self.profile.speed_end_list[i], sp.speed_end_mps,
                self.distance_m + sp.distance_m, sp.demand_w, limited, lim.p_max_w)
        return plan, current, regen_skipped

    def _drive(self) -> None:
        cfg = self.cfg
        unpaced = self.pacer.unpaced or self.host_clock
        while True:
            k = self.logged + 1
            t = time.perf_counter()
            plan, current, regen_skipped = self._plan(k)
            self.timing["plan"] += time.perf_counter() - t
            check_setpoint(cfg.limits, current, self.setpoint_a, self.can_source)
            t = time.perf_counter()
            self.inst.set_current(current)
            self.setpoint_a = current
            if self.host_clock:
                self.inst.advance(plan[3])
            self.timing["instrument"] += time.perf_counter() - t
            if not unpaced:
                wait = self.pacer.deadline(plan[2]) - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            v, i, reading = self._measure(cells=k % cfg.bms.cells_every_steps == 0)
            self.energy_wh += v * i * plan[3] / 3600.0
            tel = self._telemetry(k, v, i, reading)
            lim = self.limits_of(tel)
            end = self.end_check.update(k, plan[3], tel, lim.p_max_w)
            breach = check_reading(cfg.limits, v, i, current, reading) if reading.contactor else None
            if breach is not None:
                end = ("limit_breach", str(breach))
            if end is None and k % cfg.instrument.error_check_steps == 0:
                errors = self.inst.errors()
                if errors:
                    end = ("instrument_error", f"{self.inst.resource} reports: {'; '.join(errors)}")
            if end is not None:
                self.safe.make_safe(f"{end[0]}: {end[1]}", k)  # before anything else
            self.e_v = v + i * self.pack.r0_ohm
            self._log_row(k, plan, tel, reading, current, regen_skipped)
            if reading.cells_v:
                self.log.event("cells", step=k, cells_v=reading.cells_v)
            if end is not None:
                self.end = end
                self.log.event("end", step=k, reason=end[0], detail=end[1])
                self.log.flush()
                return

    def _log_row(self, step: int, plan: tuple, t: Telemetry, r: BmsReading, setpoint_a: float,
                 regen_skipped: int) -> None:
        tm = time.perf_counter()
        self.lab_log.row((step, setpoint_a, regen_skipped, r.pack_voltage_v, r.current_a, r.soc, r.temp_min_c,
                          r.cell_min_index, r.cell_max_index, r.raw_flags))
        self.lab_log.flush()  # never behind steps.csv
        self.log.rows([format_row((step, *plan, round(self._elapsed(), 4), t.pack_voltage_v, t.pack_current_a,
                                   t.soc_estimate, t.soc_true, t.soc_weak_true, t.cell_v_min_v, t.cell_v_max_v,
                                   t.temperature_c, t.allowed_discharge_a, t.allowed_charge_a, t.energy_out_wh,
                                   t.fault_flags, t.contactor, t.step_count))])
        if step > 0 and t.fault_flags and t.fault_flags != self._last_flags:
            self.log.event("bms_fault", step=step, faults=fault_names(t.fault_flags), raw=r.raw_flags)
        self._last_flags = t.fault_flags
        self.log.flush()
        self.logged = step
        self.car_speed = plan[5]
        self.distance_m = plan[6]
        self.time_s = plan[2]
        self.last_tel = t
        self.regen_skipped += regen_skipped
        self.timing["log"] += time.perf_counter() - tm
        self._stats_event()
        if self.progress is not None:
            self.progress(self)

