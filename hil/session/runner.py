"""Assemble and run a bench session: a fresh one (`run_session`) or one continued from its log
(`resume_session`). The CLI (`hil.run_cli`) and `bench/hil.py` both call these."""
from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import serial

from kei.errors import CycleError
from kei.hil.errors import BenchError, LogError, SessionAborted
from kei.hil.link.connection import Connection, find_device
from kei.hil.link.faults import parse_fault_spec
from kei.hil.log.session_log import (
    BENCH_FILE,
    CYCLE_FILE,
    DESIGN_FILE,
    LOG_FORMAT,
    LOG_VERSION,
    LogWriter,
    SessionLog,
    read_log,
    sha256_file,
)
from kei.hil.log.summary import TRACE_MISS_KEY, VALID_KEY, VALIDITY_REASON_KEY, summarize
from kei.hil.session.drive import Car, build_profile, limits_from_telemetry
from kei.hil.session.end_conditions import EndCheck
from kei.hil.session.pacing import Pacer, pace_name, parse_pace
from kei.hil.session.session import ResumePoint, Session
from kei.hil.setup.bench_config import BenchConfig, bench_config_file, load_bench_config
from kei.hil.setup.bms_config import bms_config_file, load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.hil.wire.protocol import MAX_STEP_DT_S, Configure, OcvTable
from kei.vehicle.cycles import BUNDLED, DERIVED, load_cycle
from kei.vehicle.files import load_vehicle, vehicle_path
from kei.vehicle.predict import Prediction, predict

DEVICE_LOG_FILE = "device.log"


@dataclass
class Outcome:
    """How a session call ended: the summary (from the log) and the log directory. `note`: what the
    caller should tell the user besides the result (a resume of a session that had finished)."""

    result: dict
    log_dir: Path
    note: str | None = None

    @property
    def measured_range_km(self) -> float | None:
        return self.result.get("measured_range_km")

    def to_dict(self) -> dict:
        """The result as `kei hil run --json` prints it."""
        return dict(self.result)


def default_log_dir(design: Path, cycle: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{stamp}_{Path(design).stem}_{Path(cycle).stem}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}_{n}")
    return path


def _versions() -> dict:
    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {"kei": version("kei"), "python": platform.python_version(), "numpy": np.__version__,
            "pyserial": serial.VERSION, "platform": platform.platform()}


def _pack_messages(vehicle, design_path: Path) -> tuple[OcvTable, Configure, dict]:
    setup = pack_setup(vehicle, load_bms_config(), vehicle_file=str(design_path))
    info = {"series": setup.series, "parallel": setup.parallel, "cell": setup.cell.id, "generic_cell": setup.generic_cell,
            "notes": list(setup.notes), "bms_config": str(bms_config_file()), "bms_config_sha256": sha256_file(bms_config_file())}
    return setup.ocv_table, setup.configure, info


def _progress_bar(total_km: float, enabled: bool):
    """A tqdm bar in km with SOC and cycle; returns (callback for the session, close function)."""
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=round(total_km, 1), unit="km", desc="driving", file=sys.stderr, disable=None, leave=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} km [{elapsed}<{remaining}{postfix}]")
    last = [0.0, None]

    def update(session: Session, force: bool = False) -> None:
        now = time.monotonic()
        last[1] = session
        if now - last[0] < 0.1 and not force:
            return
        last[0] = now
        km = session.distance_m / 1000.0
        bar.total = max(bar.total, round(km, 1))  # beyond the prediction: a full bar
        bar.n = round(km, 2)
        soc = session.last_tel.soc_estimate if session.last_tel else float("nan")
        cycle = session.logged / max(session.profile.steps, 1)
        bar.set_postfix_str(f"SOC {100 * soc:.1f} %, cycle {cycle:.1f}", refresh=True)

    def close() -> None:
        if last[1] is not None:
            update(last[1], force=True)
        bar.close()

    return update, close


@dataclass
class _Parts:
    """What a session drives with, built the same way for a run and a resume."""

    profile: object
    car: Car
    end: EndCheck
    limits_of: object


def _check_step_lengths(prediction: Prediction, cycle_name: str) -> None:
    """Every step must fit one STEP (protocol.md: dt_s <= 60 s): a longer one would be refused by
    the device mid-run, and by every resume after it."""
    dt = prediction.dt_s
    long = [int(i) for i in (dt > MAX_STEP_DT_S).nonzero()[0]]
    if long:
        i = long[0]
        t0 = float(prediction.sim.time_s[i] - dt[i])
        raise CycleError(cycle_name, None, f"{len(long)} step(s) longer than the {MAX_STEP_DT_S:g} s one bench STEP "
                         f"can carry, the first from t = {t0:g} s to {t0 + float(dt[i]):g} s ({float(dt[i]):g} s): "
                         "add samples in between (e.g. every 1 s)")


def _trace_note(prediction: Prediction) -> str | None:
    """The energy model's verdict that the car cannot drive the trace, for the log and the user (the
    summary applies the same rule, `summary.range_validity`)."""
    figures = prediction.figures()
    if figures.get(VALID_KEY) is False:
        return (f"the energy model does not count this as a valid run of {prediction.cycle.name} "
                f"({figures.get(VALIDITY_REASON_KEY)}): the result will be reported as no range measurement")
    missed = figures[TRACE_MISS_KEY]
    if VALID_KEY in figures or not missed:
        return None
    return (f"the car cannot drive {missed} of the {prediction.steps} steps of {prediction.cycle.name} (power, "
            "torque or speed limit): the result will be reported as no range measurement")


def _session_parts(prediction: Prediction, config: BenchConfig, configure: Configure, max_steps: int | None) -> _Parts:
    s = config.session
    profile = build_profile(prediction)
    car = Car(profile)
    end = EndCheck(s, car.cruise_power_w(s.limp_speed_kmh), profile.steps, max_steps)

    def limits_of(t):
        return limits_from_telemetry(t, car.resistance_ohm, s.limit_margin, configure.max_discharge_a,
                                     s.derating_fraction, s.close_loop_soc)

    return _Parts(profile, car, end, limits_of)


def run_session(design: str | Path, cycle_name: str, *, port: str | None = None, emulator: str | None = None,
                pace: str = "max", inject: str | None = None, log_dir: str | Path | None = None,
                bench_config: str | Path | None = None, baud_pace: int | None = None,
                max_steps: int | None = None, progress: bool = True, on_log_created=None) -> Outcome:
    """A fresh session from a design file and a cycle. Errors after the log exists leave it resumable.
    A bench config that describes a lab bench (an [instrument] table) runs the lab session instead."""
    from kei.hil.lab.config import is_lab_config

    if is_lab_config(bench_config):
        from kei.hil.lab.runner import run_lab_session

        return run_lab_session(design, cycle_name, bench_config=bench_config, pace=pace, log_dir=log_dir,
                               max_steps=max_steps, progress=progress, on_log_created=on_log_created)
    design = vehicle_path(design)
    vehicle = load_vehicle(design)
    cycle = load_cycle(cycle_name)
    bench_config = Path(bench_config) if bench_config is not None else bench_config_file()
    config = load_bench_config(bench_config)
    speedup = parse_pace(pace)
    spec = parse_fault_spec(inject) if inject else None
    ocv, configure, pack_info = _pack_messages(vehicle, design)
    prediction = predict(vehicle, cycle)  # the one energy-model run of the session
    _check_step_lengths(prediction, cycle_name)
    parts = _session_parts(prediction, config, configure, max_steps)
    profile = parts.profile
    predicted = prediction.figures()
    log_dir = Path(log_dir) if log_dir else default_log_dir(design, cycle_name)
    user_csv = cycle_name not in BUNDLED and cycle_name not in DERIVED
    header = {
        "format": LOG_FORMAT, "version": LOG_VERSION, "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "design": {"name": vehicle.name, "path": str(design.resolve()), "file": DESIGN_FILE, "sha256": sha256_file(design)},
        "cycle": CYCLE_FILE if user_csv else cycle_name, "cycle_source": str(Path(cycle_name).resolve()) if user_csv else "bundled",
        "link": {"port": port, "emulator": emulator, "baud_pace": baud_pace},
        "pace": pace_name(speedup), "inject": spec.text if spec else None, "max_steps": max_steps,
        "bench_config": {"source": str(bench_config), "sha256": sha256_file(Path(bench_config)), "values": config.as_dict()},
        "pack": {**pack_info, "ocv_table": dataclasses.asdict(ocv), "configure": dataclasses.asdict(configure)},
        "predicted": predicted,
        "profile": {"steps_per_cycle": profile.steps, "cycle_duration_s": profile.duration_s,
                    "cycle_distance_km": profile.distance_km},
        "versions": _versions(),
    }
    if user_csv:
        header["cycle_sha256"] = sha256_file(Path(cycle_name))
    # the copy byte for byte (a CRLF file too), so that a resume can check its sha256
    log = LogWriter.create(log_dir, header, design, Path(bench_config).read_bytes().decode("utf-8"),
                           cycle_csv=Path(cycle_name) if user_csv else None, sync_interval_s=config.log.sync_interval_s)
    if on_log_created is not None:
        on_log_created(log_dir)
    log.event("session_start", design=str(design), cycle=cycle_name, port=port, emulator=emulator,
              pace=pace_name(speedup), inject=spec.text if spec else None)
    trace = _trace_note(prediction)
    if trace:
        log.event("trace_miss", steps=predicted[TRACE_MISS_KEY], note=trace)
        print(f"kei hil run: warning: {trace}", file=sys.stderr)
    conn = Connection(config, port=port, emulator=emulator, inject=spec, device_log=log_dir / DEVICE_LOG_FILE,
                      baud_pace=baud_pace)
    return _drive(log, log_dir, conn, config, parts, ocv, configure, Pacer(speedup), None,
                  predicted["predicted_range_km"], progress)


def _check_copies(log_dir: Path, head: dict) -> None:
    """The design, bench settings and cycle a session started with are the ones it resumes with:
    their copies in the log must still have the sha256 the header recorded."""
    design = head.get("design") or {}
    recorded = [(DESIGN_FILE, design.get("sha256"), "design"),
                (BENCH_FILE, (head.get("bench_config") or {}).get("sha256"), "bench settings")]
    if head.get("cycle") == CYCLE_FILE:
        recorded.append((CYCLE_FILE, head.get("cycle_sha256"), "cycle"))
    for name, want, what in recorded:
        path = log_dir / name
        if not path.exists():
            raise LogError(f"{path}: missing: the session's {what} copy is needed to resume it")
        if want and sha256_file(path) != want:
            raise LogError(f"{path}: changed since the session started (sha256 {sha256_file(path)[:12]}..., recorded "
                           f"{want[:12]}...): a resume with another {what} would measure something else; put the "
                           "original back or start a new session")


def _finished_note(log: SessionLog, result: dict) -> str:
    return (f"{log.dir}: the session had finished ({result.get('cutoff_reason')} at step {result.get('steps', 0):,}); "
            "nothing to resume")


def resume_session(log_dir: str | Path, *, port: str | None = None, emulator: str | None = None,
                   pace: str | None = None, inject: str | None = None, progress: bool = True) -> Outcome:
    """Continue the session in `log_dir` (host killed, cable pulled, device reset). Refused while
    another host runs it (the log's lock), and when its design, bench settings or cycle copy changed."""
    log_dir = Path(log_dir)
    head = read_log(log_dir, load_steps=False).header
    if head.get("bench") == "lab":
        from kei.hil.lab.runner import resume_lab_session

        return resume_lab_session(log_dir, pace=pace, progress=progress)
    _check_copies(log_dir, head)
    config = load_bench_config(log_dir / BENCH_FILE, complete=True)
    log = LogWriter(log_dir, config.log.sync_interval_s).open()  # the lock, then the repair, then read
    try:
        old = read_log(log_dir)
        if old.result is not None:
            log.close()
            return Outcome(old.result, log_dir, _finished_note(old, old.result))
        vehicle = load_vehicle(log_dir / DESIGN_FILE)
        cycle_name = head["cycle"]
        cycle = load_cycle(log_dir / CYCLE_FILE if cycle_name == CYCLE_FILE else cycle_name)
        speedup = parse_pace(pace or head["pace"])
        spec = parse_fault_spec(inject) if inject else None
        pack = head["pack"]
        ocv = OcvTable(**{**pack["ocv_table"], "ocv_mv": tuple(pack["ocv_table"]["ocv_mv"])})
        configure = Configure(**pack["configure"])
        prediction = predict(vehicle, cycle)
        _check_prediction(log_dir, head, prediction)
        _check_step_lengths(prediction, cycle_name)
        parts = _session_parts(prediction, config, configure, head.get("max_steps"))
        start = resume_point(old, config, parts)
        if start.end is not None and any(e.get("event") == "stopped" and e.get("why", "end") == "end"
                                         for e in old.events):
            # the measurement and the STOP are in the log; only result.json is missing (or unreadable)
            result = _finish(log, log_dir, None, None)
            return Outcome(result, log_dir, _finished_note(old, result))
    except BaseException:
        log.close()
        raise
    if port is None and emulator is None:
        port, emulator = head["link"].get("port"), head["link"].get("emulator")
    device = find_device(emulator, old.events) if emulator else None
    for fixed in log.repaired:
        log.event("log_repaired", **fixed)
    if config.filled_in:
        log.event("settings_filled_in", keys=list(config.filled_in), note="missing in the log's bench.toml (an older "
                  "kei): taken from the bundled one")
    log.event("resume", step=start.logged_step, port=port, emulator=emulator, adopted_device=device.pid if device else None,
              pace=pace_name(speedup), inject=spec.text if spec else None)
    conn = Connection(config, port=port, emulator=emulator, device=device, inject=spec,
                      device_log=log_dir / DEVICE_LOG_FILE, baud_pace=head["link"].get("baud_pace"))
    return _drive(log, log_dir, conn, config, parts, ocv, configure, Pacer(speedup), start,
                  head["predicted"]["predicted_range_km"], progress)


def _check_prediction(log_dir: Path, head: dict, prediction: Prediction) -> None:
    """The energy model must plan the same steps it planned when the session started (kei upgraded
    between the run and the resume would change the demand halfway)."""
    was = (head.get("predicted") or {}).get("predicted_range_km")
    now = prediction.figures()["predicted_range_km"]
    if was is not None and now != was:
        raise LogError(f"{log_dir / 'session.json'}: the energy model now predicts {now!r} km for this design, the "
                       f"session started with {was!r} km (kei or its model defaults changed): its remaining steps "
                       "would be planned differently; finish it with the kei that started it, or start a new session")


def resume_point(log: SessionLog, config: BenchConfig, parts: _Parts) -> ResumePoint:
    """The session's state after the last row of `log`, the end conditions replayed over all rows."""
    if log.rows == 0:
        return ResumePoint()
    c = log.columns
    last = log.row(-1)
    lag = config.session.limit_lag_steps
    limits = {}
    finished = None
    for idx in range(log.rows):
        t = log.telemetry(idx)
        lim = parts.limits_of(t)
        if idx == 0 or idx >= log.rows - lag - 1:
            limits[int(c["step"][idx])] = lim
        if idx == 0:
            continue
        finished = parts.end.update(int(c["step"][idx]), float(c["dt_s"][idx]), t, lim.p_max_w)
        if finished is not None:
            if idx != log.rows - 1:
                raise LogError(f"{log.dir}: the run ended on step {int(c['step'][idx])} but the log goes on")
            break
    hello = next((e for e in reversed(log.events) if e.get("event") == "hello"), None)
    # a STOP the last host sent when it stopped early, after its last handshake
    last_stop = next((e for e in reversed(log.events) if e.get("event") in ("stopped", "hello")), None)
    stopped = last_stop is not None and last_stop.get("event") == "stopped" and last_stop.get("why", "end") != "end"
    return ResumePoint(logged_step=last["step"], speed_mps=last["speed_mps"], distance_m=last["distance_m"],
                       time_s=last["time_s"], wall_s=last["wall_s"], last_tel=log.telemetry(-1), limits=limits, end=finished,
                       device_id=hello.get("device_id") if hello else None, stopped_by_host=stopped)


def _drive(log: LogWriter, log_dir: Path, conn: Connection, config, parts: _Parts, ocv, configure, pacer,
           start, predicted_km: float, progress: bool) -> Outcome:
    update, close_bar = _progress_bar(predicted_km, progress)
    session = Session(config=config, profile=parts.profile, car=parts.car, ocv=ocv, configure=configure,
                      connection=conn, log=log, pacer=pacer, end_check=parts.end, limits_of=parts.limits_of,
                      start=start, progress=update)
    finished = False
    try:
        session.run()
        finished = True
    except KeyboardInterrupt:
        log.event("interrupted", step=session.logged)
        session.stop_on_abort("interrupted")
        raise
    except BenchError as err:
        log.event("aborted", step=session.logged, error=str(err))
        session.stop_on_abort("aborted")
        if session.logged < 0:
            raise SessionAborted(err, f"{err}\n  nothing was measured (log: {log_dir})") from err
        kept = (f"; the {conn.emulator_kind} emulator (pid {conn.device.pid}) keeps its state for "
                f"{config.emulator.idle_exit_s:g} s" if conn.device is not None and conn.device.alive() else "")
        raise SessionAborted(err, f"{err}\n  the log {log_dir} holds every step up to {session.logged}{kept}; continue with: "
                         f"kei hil resume {log_dir}") from err
    finally:
        close_bar()
        # A finished run stops its emulator; an interrupted one leaves it for `kei hil resume`
        # (it exits by itself after emulator.idle_exit_s).
        conn.close(stop_device=finished)
        if not finished:
            log.close()
    log.event("closed", step=session.logged)
    result = _finish(log, log_dir, conn, session)
    return Outcome(result, log_dir)


def _finish(log: LogWriter, log_dir: Path, conn: Connection | None, session: Session | None) -> dict:
    """The result from the log, written while the log is still ours (its lock held), then closed."""
    try:
        result = summarize(read_log(log_dir, load_steps=False))
        result["log_dir"] = str(log_dir)
        if conn is not None:
            result.update(emulator=conn.emulator_kind, port=conn.port)
        if session is not None:
            h = session.hello
            result["device"] = {"kind": h.device_kind, "id": h.device_id, "firmware": h.firmware} if h else None
        log.result(result)
        return result
    finally:
        log.close()
