"""The bench session: configure the device, stream the car's steps through a window, log every
answer before it counts, and stop at an end condition. Survives a lossy line, a pulled cable and a
device reset; a host that dies leaves a log `resume` continues from.

Per step k (global step number, 1-based; on the wire `k mod 65536`):
- plan: the car's demand for k (`drive.Car.plan`) within the limits the BMS reported on step
  k - limit_lag_steps (always already logged, because the window is not larger than the lag), or,
  once that telemetry shows the pack nearly empty or the BMS derating, on step
  k - close_loop_lag_steps (the step then waits for it: stop-and-wait near the end). Either way
  the plan does not depend on when answers happen to arrive: the same run gives the same steps
  over any line, at any pace, resumed or not;
- send: STEP frames, several per write, at most `window` beyond the oldest unlogged step;
- answer: TELEMETRY is buffered by step and logged strictly in order (one write + flush per batch,
  before any further step is sent); steps an answer shows lost are resent at once, and everything
  unanswered after the adaptive timeout (`hil.window`); the device answers a retransmission from its
  cache (protocol.md section 3), so nothing is applied twice;
- end: `end_conditions.EndCheck` on every logged row; then STOP.

Every path makes progress or ends with a named error: an answer that cannot be right
(`telemetry_check`) is asked again, and the same bad answer `bad_answer_limit` times is a device
fault; a NACK OUT_OF_ORDER that expects a step outside the window means the device lost the session
(a board that reset behind a USB-UART bridge that kept the port open) and it is restored, and so
is one that has NACKed more than `nack_resends_without_progress` steps since the last logged one;
`dead_link_s` without a logged step ends the session whatever the device keeps answering; and
reconnects, restarts and restores are capped at `recoveries_without_progress` in a row without a
logged step.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

from kei.hil.errors import BenchError, DeviceFault, LinkLost, LinkTimeout, ProtocolError
from kei.hil.link.connection import Connection
from kei.hil.log.session_log import SEQ_MOD, LogWriter, format_row
from kei.hil.session.drive import Car, DriveProfile
from kei.hil.session.end_conditions import EndCheck, fault_names
from kei.hil.session.pacing import Pacer
from kei.hil.session.telemetry_check import telemetry_problem
from kei.hil.session.window import RetransmitTimer, SendWindow
from kei.hil.setup.bench_config import BenchConfig
from kei.hil.setup.pack_setup import restore_configure
from kei.hil.wire.framing import FrameDecoder
from kei.hil.wire.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Configure,
    Fault,
    Hello,
    HelloAck,
    MessageError,
    Nack,
    NackReason,
    OcvTable,
    Reset,
    ResetWhat,
    Status,
    Step,
    StepMode,
    Stop,
    Telemetry,
    configure_errors,
    decode,
)
from kei.units import BITS_PER_BYTE_8N1

STEP_WIRE_BYTES = 16        # protocol.md section 5: a STEP frame on the wire
TELEMETRY_WIRE_BYTES = 59   # ... and its TELEMETRY answer
HOST_SEQ_START = 0x4000     # host requests carry their own counter (any value, protocol.md section 3)
STATS_EVENT_PERIOD_S = 1.0


class _DeviceReset(Exception):
    """The device lost the session's state mid-run (NOT_CONFIGURED, or an OUT_OF_ORDER that expects a
    step outside the window: it reset); say HELLO again and restore it. `force`: restore even if
    HELLO claims the device holds the session (its answers said otherwise)."""

    def __init__(self, message: str, force: bool = False):
        super().__init__(message)
        self.force = force


@dataclass
class LinkStats:
    frames_sent: int = 0        # every frame written, retransmissions included
    frames_retried: int = 0     # STEP retransmissions (after a loss was seen, or a timeout)
    timeouts: int = 0
    frames_duplicated: int = 0  # second copies of steps sent alone (near the end) on a lossy line
    nacks: int = 0
    stale_answers: int = 0      # answers for steps not in flight (already logged, or nowhere near)
    bad_telemetry: int = 0      # TELEMETRY that cannot be right (telemetry_check): not logged, asked again
    bad_messages: int = 0       # good CRC, but not a valid message
    reconnects: int = 0
    device_restores: int = 0
    frame_errors: dict = field(default_factory=dict)  # by kind, from the frame decoder

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["crc_errors"] = self.frame_errors.get("crc", 0)
        return d


@dataclass
class ResumePoint:
    """The session's state after its last logged row (a fresh session: nothing logged)."""

    logged_step: int = -1          # -1: not even the row of step 0 (the state before the first step)
    speed_mps: float = 0.0         # the car's speed at the end of the logged step
    distance_m: float = 0.0        # driven so far
    time_s: float = 0.0            # simulated time at the end of the logged step
    wall_s: float = 0.0            # active session time so far
    last_tel: Telemetry | None = None  # the last logged telemetry (to restore a reset device from)
    limits: dict = field(default_factory=dict)   # step -> StepLimits, row 0 and the last lag + 1 rows
    end: tuple[str, str] | None = None
    device_id: int | None = None
    stopped_by_host: bool = False  # the session stopped early with a STOP (contactor open)


class Session:
    def __init__(self, *, config: BenchConfig, profile: DriveProfile, car: Car, ocv: OcvTable, configure: Configure,
                 connection: Connection, log: LogWriter, pacer: Pacer, end_check: EndCheck, limits_of,
                 start: ResumePoint | None = None, progress=None):
        """`limits_of(telemetry) -> drive.StepLimits`: what a telemetry allows the steps it plans."""
        self.cfg = config
        self.profile = profile
        self.car = car
        self.ocv = ocv
        self.configure = configure
        self.conn = connection
        self.log = log
        self.pacer = pacer
        self.end_check = end_check
        self.limits_of = limits_of
        self.progress = progress
        self.stats = LinkStats()
        self.decoder = FrameDecoder()
        self.hello: HelloAck | None = None
        self.window = 1
        self.lag = config.session.limit_lag_steps
        self.close_loop_lag = config.session.close_loop_lag_steps
        self._host_seq = HOST_SEQ_START
        link = config.link
        wire_bytes = config.session.window_steps * (STEP_WIRE_BYTES + TELEMETRY_WIRE_BYTES)
        line_time = wire_bytes * BITS_PER_BYTE_8N1 / link.baudrate
        self.rto = RetransmitTimer(link.min_answer_timeout_s, link.answer_timeout_s + line_time)
        self._t0 = time.monotonic()
        self._last_stats_event = 0.0
        st = start or ResumePoint()
        self.logged = st.logged_step
        self.car_speed = st.speed_mps
        self.distance_m = st.distance_m
        self.time_s = st.time_s
        self.wall_offset_s = st.wall_s
        self.last_tel = st.last_tel
        self.limits = dict(st.limits)
        self.end = st.end
        self.known_device_id = st.device_id
        self._last_device = None
        self._last_flags = st.last_tel.fault_flags if st.last_tel else 0
        self._recoveries: list[str] = []   # since the last logged step
        self._recovery_step = self.logged
        self._bad_answers: dict[int, int] = {}  # step -> bad TELEMETRY answers to it
        self._force_restore = False
        self.stopped_by_host = st.stopped_by_host  # the last host sent STOP when it stopped early

    # ---- top level ----------------------------------------------------------------------------
    def run(self) -> tuple[str, str]:
        """Drive to an end condition; returns (reason, detail). Link losses are ridden out."""
        transport = self.conn.open()
        self._note_device()
        try:
            while True:
                try:
                    self._handshake(transport)
                    if self.end is None:
                        self._stream(transport)
                    self._stop_device(transport)
                    return self.end
                except LinkLost as err:
                    self.stats.reconnects += 1
                    self._stats_event(force=True)
                    gone = self.conn.device_gone()  # an emulator that died: restarted by reconnect()
                    self.log.event("link_lost", step=self.logged, error=str(err), **({"device": gone} if gone else {}))
                    self._recovery(f"link lost ({err})" + (f"; {gone}" if gone else ""))
                    transport = self.conn.reconnect()
                    self._note_device()
                    self.log.event("reconnected", step=self.logged, port=self.conn.port)
                except _DeviceReset as err:
                    self._force_restore = err.force
                    self.log.event("device_reset", step=self.logged, why=str(err))
                    self._recovery(f"the device lost the session ({err})")
        finally:
            self._stats_event(force=True)
            self.log.flush()

    def _recovery(self, what: str) -> None:
        """Count a reconnect, restart or restore; too many in a row without a logged step end the
        session with all of them named (a device that crashes at the same step every time)."""
        if self.logged != self._recovery_step:
            self._recoveries, self._recovery_step = [], self.logged
        self._recoveries.append(what)
        limit = self.cfg.link.recoveries_without_progress
        if len(self._recoveries) > limit:
            where = f"step {self.logged + 1}" if self.logged >= 0 else "the start"
            raise DeviceFault(f"{self.conn.port}: {len(self._recoveries)} recoveries in a row at {where} without a "
                              f"step logged in between (recoveries_without_progress = {limit}), giving up: "
                              + " | ".join(self._recoveries))

    def _note_device(self) -> None:
        dev = self.conn.device
        if dev is not None and dev is not self._last_device:
            self._last_device = dev
            if dev.proc is not None:  # started by this host
                self.log.event("device_started", **dev.describe())

    def _elapsed(self) -> float:
        return self.wall_offset_s + time.monotonic() - self._t0

    def _stats_event(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_stats_event >= STATS_EVENT_PERIOD_S:
            self._last_stats_event = now
            self.stats.frame_errors = dict(self.decoder.errors)
            extra = {"injected": self.conn.faults.stats.as_dict()} if self.conn.faults is not None else {}
            self.log.event("link_stats", step=self.logged, elapsed_s=round(self._elapsed(), 3), **self.stats.as_dict(), **extra)
            for err in self.decoder.pop_errors():
                self.log.event("frame_error", kind=err.kind, detail=str(err))
            if self.conn.faults is not None:
                for what in self.conn.faults.take_events():
                    self.log.event("fault_injected", step=self.logged, what=what)

    # ---- requests other than STEP -------------------------------------------------------------
    def _next_host_seq(self) -> int:
        self._host_seq = (self._host_seq + 1) % SEQ_MOD
        return self._host_seq

    def _request(self, transport, make, accept, retries: int, what: str, fixed_timeout: bool = False):
        """Send `make(seq)` until `accept(msg, seqs)` returns a value (not None) for an answer to any
        of the tries. Timeouts are adaptive (the session's round-trip estimate) unless `fixed_timeout`
        (HELLO: nothing is known about the device yet, it may be booting)."""
        rto = self.rto
        seqs: set[int] = set()
        for attempt in range(retries):
            seq = self._next_host_seq()
            seqs.add(seq)
            sent_at = time.monotonic()
            transport.write(b"\x00" + make(seq).frame())
            self.stats.frames_sent += 1
            timeout = self.cfg.link.answer_timeout_s if fixed_timeout else rto.timeout_s
            deadline = sent_at + timeout
            while (left := deadline - time.monotonic()) > 0:
                for body in self.decoder.feed(transport.read(left)):
                    try:
                        msg = decode(body)
                    except MessageError:
                        self.stats.bad_messages += 1
                        continue
                    if isinstance(msg, Nack) and msg.seq in seqs and msg.reason != NackReason.OUT_OF_ORDER:
                        raise ProtocolError(f"{self.conn.port}: device refused {what}: NACK "
                                            f"{_reason_name(msg.reason)}")
                    got = accept(msg, seqs)
                    if got is not None:
                        if attempt == 0:  # Karn: only an unambiguous round trip
                            rto.sample(time.monotonic() - sent_at)
                        return got
            self.stats.timeouts += 1
            if not fixed_timeout:
                rto.backoff()
        raise LinkTimeout(f"{self.conn.port}: no answer to {what} after {retries} tries")

    def _handshake(self, transport) -> None:
        """HELLO; then configure (fresh), restore (device lost our state) or continue (it kept it)."""
        transport.reset_input()
        self.decoder.reset()
        link = self.cfg.link
        ack = self._request(transport, lambda s: Hello(s),
                            lambda m, seqs: m if isinstance(m, HelloAck) and m.seq in seqs else None,
                            link.hello_retries, "HELLO", fixed_timeout=True)
        if ack.protocol_version != PROTOCOL_VERSION:
            raise ProtocolError(f"{self.conn.port}: device speaks protocol version {ack.protocol_version}, "
                                f"this host speaks {PROTOCOL_VERSION}")
        self.hello = ack
        self.window = max(1, min(self.cfg.session.window_steps, ack.window, self.lag))
        self.log.event("hello", step=self.logged, device_kind=ack.device_kind, device_id=ack.device_id,
                       firmware=ack.firmware, window=ack.window, configured=ack.configured, last_seq=ack.last_seq,
                       step_count=ack.step_count, host_window=self.window)
        if self.logged < 0:
            self._configure(transport, self.configure)
            self._log_initial_state(transport)
        elif not self._force_restore and self._device_can_continue(ack):
            self.log.event("continue", step=self.logged, device_step=ack.step_count)
            if self.stopped_by_host and self.end is None:  # our STOP after an error opened it: close it
                self._request(transport, lambda s: Reset(s, ResetWhat.CLEAR_FAULTS),
                              lambda m, seqs: m if isinstance(m, Ack) and m.seq in seqs and m.acked_type == Reset.TYPE
                              else None, link.request_retries, "RESET")
                self.log.event("contactor_closed", step=self.logged, note="opened by the host's STOP when the "
                               "session stopped early (RESET 1: latched faults cleared, debounce timers restarted)")
        else:
            self.stats.device_restores += 1
            self._configure(transport, self._restore_message())
            self.log.event("restored", step=self.logged, from_row=self.logged)
            self._force_restore = False
        self.stopped_by_host = False
        self.known_device_id = ack.device_id
        self.log.flush()
        self.pacer.rebase(self.time_s)

    def _device_can_continue(self, ack: HelloAck) -> bool:
        """The device holds exactly our session: same device, configured, and every step it
        applied beyond our log is still in its answer cache."""
        return (bool(ack.configured) and ack.device_id == self.known_device_id
                and self.logged <= ack.step_count <= self.logged + self.window
                and ack.last_seq == ack.step_count % SEQ_MOD)

    def _restore_message(self) -> Configure:
        t = self.last_tel
        if not (math.isfinite(t.soc_true) and math.isfinite(t.soc_weak_true)):  # real hardware: no true SOC
            t = replace(t, soc_true=t.soc_estimate, soc_weak_true=t.soc_estimate)
        return restore_configure(self.configure, replace(t, seq=self.logged % SEQ_MOD, step_count=self.logged))

    def _configure(self, transport, configure: Configure) -> None:
        refused = configure_errors(decode(configure.encode()), self.hello.max_series)
        if refused:  # the device would NACK it: say why, from the table it applies
            what = "restore it from" if configure.step_count else "configure it for"
            raise ProtocolError(f"{self.conn.port}: cannot {what} step {self.logged}: the CONFIGURE is outside what "
                                "the device accepts: " + "; ".join(refused))
        retries = self.cfg.link.request_retries
        for msg, what in ((self.ocv, "OCV_TABLE"), (configure, "CONFIGURE")):
            self._request(transport, lambda s, m=msg: replace(m, seq=s),
                          lambda m, seqs, t=msg.TYPE: m if isinstance(m, Ack) and m.seq in seqs and m.acked_type == t else None,
                          retries, what)
        self.log.event("configured", step=self.logged, soc_true=configure.soc_true, soc_estimate=configure.soc_estimate,
                       step_count=configure.step_count)

    def _log_initial_state(self, transport) -> None:
        """Row 0: the device's state before the first step (its limits plan the first `lag` steps)."""
        tel = self._request(transport, lambda s: Status(s), self._accept_status, self.cfg.link.request_retries,
                            "STATUS")
        s0 = self.profile.speed_start_list[0]
        plan = (0, 0, 0.0, 0.0, s0, s0, 0.0, 0.0, 0, 0.0)
        self._log_rows([(0, plan, tel)])

    def _accept_status(self, m, seqs):
        if not (isinstance(m, Telemetry) and m.seq == 0):
            return None
        problem = self._check(m, 0)
        if problem is not None:
            self._bad_answer(0, problem)
            return None
        return m

    def _check(self, t: Telemetry, step: int) -> str | None:
        return telemetry_problem(t, step, self.configure.max_discharge_a, self.configure.max_charge_a)

    def _bad_answer(self, step: int, problem: str) -> None:
        """A TELEMETRY for `step` that cannot be right: not logged; the step is asked again. The same
        step answered badly `bad_answer_limit` times is the device's answer, not noise: a named error."""
        self.stats.bad_telemetry += 1
        n = self._bad_answers[step] = self._bad_answers.get(step, 0) + 1
        self.log.event("bad_telemetry", step=step, problem=problem, count=n)
        if n >= self.cfg.link.bad_answer_limit:
            raise DeviceFault(f"{self.conn.port}: step {step}: the device answered {n} times with a TELEMETRY "
                              f"that cannot be right ({problem}): a device fault, not line noise")

    def _stop_device(self, transport, retries: int | None = None, why: str = "end") -> bool:
        try:
            self._request(transport, lambda s: Stop(s),
                          lambda m, seqs: m if isinstance(m, Ack) and m.seq in seqs and m.acked_type == Stop.TYPE else None,
                          retries or self.cfg.link.request_retries, "STOP", fixed_timeout=retries is not None)
            self.log.event("stopped", step=self.logged, why=why)
            return True
        except (LinkTimeout, LinkLost, ProtocolError) as err:  # the measurement is complete either way
            self.log.event("stop_failed", step=self.logged, why=why, error=str(err))
            return False

    def stop_on_abort(self, why: str) -> None:
        """The session ends before an end condition (an error, Ctrl-C): leave the contactor open if
        the device still listens (a few tries; a device that is gone costs little). A resume closes
        it again (`_handshake`)."""
        transport = self.conn.transport
        if transport is not None and self.hello is not None:
            try:
                self._stop_device(transport, self.cfg.link.stop_on_abort_tries, why)
            except BenchError as err:  # the error that ended the session is the one to report
                self.log.event("stop_failed", step=self.logged, why=why, error=str(err))

    # ---- logging ------------------------------------------------------------------------------
    def _log_rows(self, answered: list) -> None:
        """Log (step, plan, telemetry) in step order; check the end conditions on each."""
        lines = []
        wall = round(self._elapsed(), 4)
        keep_from = None
        for step, plan, t in answered:
            lines.append(format_row((step, *plan, wall, t.pack_voltage_v, t.pack_current_a, t.soc_estimate, t.soc_true,
                                     t.soc_weak_true, t.cell_v_min_v, t.cell_v_max_v, t.temperature_c,
                                     t.allowed_discharge_a, t.allowed_charge_a, t.energy_out_wh, t.fault_flags,
                                     t.contactor, t.step_count)))
            self.logged = step
            self.car_speed = plan[5]
            self.distance_m = plan[6]
            self.time_s = plan[2]
            self.limits[step] = self.limits_of(t)
            keep_from = step - self.lag
            self.last_tel = t
            if step > 0:
                if t.fault_flags and self._last_flags != t.fault_flags:
                    self.log.event("bms_fault", step=step, faults=fault_names(t.fault_flags))
                end = self.end_check.update(step, plan[3], t, self.limits[step].p_max_w)
                if end is not None:
                    self.end = end
                    self.log.event("end", step=step, reason=end[0], detail=end[1])
                    break
            self._last_flags = t.fault_flags
        self.log.rows(lines)
        self.log.flush()
        for old in [s for s in self._bad_answers if s <= self.logged]:
            del self._bad_answers[old]
        for old in [s for s in self.limits if s < keep_from and s != 0]:
            del self.limits[old]
        if self.progress is not None:
            self.progress(self)

    # ---- streaming ----------------------------------------------------------------------------
    def _limits_source(self, g: int) -> tuple[int, bool]:
        """The step whose telemetry plans step g, and whether the host has closed its loop (near the
        pack's limits: lag close_loop_lag_steps)."""
        close = self.limits[max(g - self.lag, 0)].close_loop
        return max(g - (self.close_loop_lag if close else self.lag), 0), close

    def _plan(self, g: int, source: int) -> tuple:
        """Plan step g (global) with the limits of step `source`: (cycle, cycle_step, time_s, dt_s,
        trace_speed, speed, distance_cum, demand_w, limited, p_max_w) + the frame."""
        n = self.profile.steps
        cycle, i = divmod(g - 1, n)
        lim = self.limits[source]
        p_max = lim.p_max_w
        sp = self.car.plan(i, self._plan_speed, p_max, lim.p_min_w)
        self._plan_speed = sp.speed_end_mps
        self._plan_distance += sp.distance_m
        dt = self.profile.dt_list[i]
        self._plan_time += dt
        frame = Step(g % SEQ_MOD, dt, StepMode.POWER, sp.demand_w).frame()
        return (cycle, i, self._plan_time, dt, self.profile.speed_end_list[i], sp.speed_end_mps, self._plan_distance,
                sp.demand_w, int(sp.limited), p_max), frame

    def _stream(self, transport) -> None:
        link = self.cfg.link
        window = self.window
        rto = self.rto
        base = self.logged + 1             # oldest step without logged telemetry
        nxt = base                         # next step to send for the first time
        self._plan_speed = self.car_speed
        self._plan_distance = self.distance_m
        self._plan_time = self.time_s
        plans: dict[int, tuple] = {}       # step -> (plan, frame), sent and not yet logged
        answers: dict[int, Telemetry] = {}
        flight = SendWindow()
        timer = time.monotonic()           # restarted on progress and on resends; expired: resend all
        progress_at = timer                # last logged step (or the first step in flight after idling)
        nacks = 0                          # NACK OUT_OF_ORDER answers since progress_at
        pacer, unpaced = self.pacer, self.pacer.unpaced
        stats, log = self.stats, self.log

        while True:
            # 1. send new steps (the window allows, the pace allows)
            now = time.monotonic()
            idle = base == nxt
            out = []
            while nxt < base + window and (unpaced or pacer.deadline(self._plan_time) <= now):
                source, close = self._limits_source(nxt)
                if source >= base:
                    break  # near the limits: this step waits for its predecessor's limits
                plan, frame = self._plan(nxt, source)
                plans[nxt] = (plan, frame)
                out.append(frame)
                flight.sent(nxt, now)
                if close and stats.frames_retried > link.duplicate_above_loss * stats.frames_sent:
                    # Alone in flight on a lossy line: a second copy turns a loss into an answer
                    # instead of a timeout; the copy not needed is answered from the cache.
                    out.append(frame)
                    flight.sent(nxt, now)
                    stats.frames_duplicated += 1
                nxt += 1
            if out:
                if idle:  # the first step in flight starts the clocks (a slow pace idles between steps)
                    timer = progress_at = now
                transport.write(b"".join(out))
                stats.frames_sent += len(out)

            # 2. wait for answers, the oldest step's timeout or the next step's deadline
            wait = timer + rto.timeout_s - now if base < nxt else rto.ceiling_s
            if not unpaced and nxt < base + window:
                wait = min(wait, pacer.deadline(self._plan_time) - now)
            data = transport.read(max(wait, 0.0))

            # 3. answers; transmissions an answer skipped were lost: resend them now
            resend: list[int] = []
            if data:
                now = time.monotonic()
                for body in self.decoder.feed(data):
                    try:
                        msg = decode(body)
                    except MessageError as err:
                        stats.bad_messages += 1
                        log.event("bad_message", step=base, error=str(err))
                        continue
                    off = (msg.seq - base) % SEQ_MOD
                    in_flight = off < nxt - base
                    if isinstance(msg, Telemetry):
                        if in_flight:
                            problem = self._check(msg, base + off)
                            if problem is not None:  # not an answer: the step stays unanswered
                                self._bad_answer(base + off, problem)
                                continue
                            lost, rtt = flight.answered(base + off, True, now)
                            resend += lost
                            if rtt is not None:
                                rto.sample(rtt)
                            answers.setdefault(base + off, msg)
                        else:
                            stats.stale_answers += 1
                    elif isinstance(msg, Nack):
                        stats.nacks += 1
                        if msg.reason == NackReason.OUT_OF_ORDER and in_flight:
                            if (msg.expected_seq - base) % SEQ_MOD > off:
                                # It expects a step after the one it refused, or one before our log:
                                # it applied steps it no longer holds answers for. It reset.
                                raise _DeviceReset(f"step {base + off} refused as OUT_OF_ORDER, the device "
                                                   f"expects seq {msg.expected_seq}")
                            nacks += 1
                            if nacks > link.nack_resends_without_progress:
                                # Not line noise any more: a device that refuses whatever it gets.
                                # Restore it to the log's state, whatever HELLO claims.
                                raise _DeviceReset(f"{nacks} NACK OUT_OF_ORDER without a step logged, the last "
                                                   f"for step {base + off} expecting seq {msg.expected_seq}",
                                                   force=True)
                            resend += flight.answered(base + off, False, now)[0]
                        elif msg.reason == NackReason.NOT_CONFIGURED:
                            raise _DeviceReset("step answered NOT_CONFIGURED")
                        elif msg.reason == NackReason.BAD_VALUE:
                            raise ProtocolError(f"{self.conn.port}: device refused step {base + off} as BAD_VALUE "
                                                f"(host bug or incompatible device)")
                        # BAD_LENGTH / UNKNOWN_TYPE: our frame was damaged past its CRC; the next
                        # answer (or the timeout) shows it lost.
                    elif isinstance(msg, Fault):
                        log.event("fault_frame", step=base + off, fault=fault_names(msg.fault), group=msg.group,
                                  value=msg.value)
                    else:
                        stats.stale_answers += 1

            # 4. log what is complete, in order (before any further step is sent)
            if base in answers:
                ready = []
                while base in answers:
                    plan, _ = plans.pop(base)
                    ready.append((base, plan, answers.pop(base)))
                    base += 1
                self._log_rows(ready)
                timer = progress_at = time.monotonic()
                nacks = 0
                if self.end is not None:
                    overrun = nxt - 1 - self.logged
                    if overrun > 0:
                        log.event("overrun", step=self.logged, steps=overrun,
                                  note="steps in flight past the end: applied by the device, not counted")
                    return
                self._stats_event()

            # 5. no progress at all for dead_link_s, whatever the device keeps answering: a named end
            now = time.monotonic()
            if base < nxt and now - progress_at > link.dead_link_s:
                seen = f", {nacks} NACK OUT_OF_ORDER since the last logged step" if nacks else ""
                raise LinkTimeout(f"{self.conn.port}: no answer the host could log for step {base} in "
                                  f"{now - progress_at:.1f} s (dead_link_s){seen}")
            #    no answer within the timeout (a lost frame nothing was sent after, a pause): resend
            #    everything unanswered
            if base < nxt and now - timer > rto.timeout_s:
                stats.timeouts += 1
                rto.backoff()
                resend = list(range(base, nxt))
                log.event("timeout", step=base, frames=sum(g not in answers for g in resend),
                          next_timeout_s=round(rto.timeout_s, 4))
            if resend:
                frames = []
                for g in dict.fromkeys(resend):  # unique, in order
                    if g >= base and g not in answers:
                        frames.append(plans[g][1])
                        flight.sent(g, now)
                if frames:
                    stats.frames_retried += len(frames)
                    stats.frames_sent += len(frames)
                    transport.write(b"\x00" + b"".join(frames))
                    timer = now
                log.flush()  # a burst of events (timeouts) is on disk within sync_interval_s


def _reason_name(reason: int) -> str:
    try:
        return NackReason(reason).name
    except ValueError:
        return f"reason {reason}"
