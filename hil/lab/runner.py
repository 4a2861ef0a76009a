"""Assemble and run a lab session: fresh (`run_lab_session`) or continued from its log
(`resume_lab_session`). `kei hil run DESIGN --bench-config lab.toml` and `kei hil resume LOGDIR` get
here through hil/session/runner.py when the config (or the log) is a lab bench's.

The log is the kei-protocol bench's (hil/log: the same LogWriter, steps.csv columns, events,
summary), plus lab.csv (lab_log.py) and lab_pack.json (the emulated battery), so `kei hil report`,
`resume` and the plots work on it unchanged.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from kei.errors import UsageError
from kei.hil.errors import BenchError, DeviceUnavailable, SessionAborted
from kei.hil.lab.bms_clients import bms_client
from kei.hil.lab.config import LabConfig, dbc_path, load_lab_config
from kei.hil.lab.emulated import LabEmulator, adopt_lab_emulator, start_lab_emulator, write_pack
from kei.hil.lab.instrument import open_instrument
from kei.hil.lab.lab_log import LabLog, read_lab_log
from kei.hil.lab.safety import check_ratings
from kei.hil.lab.scpi_models import SCPI_MODELS
from kei.hil.lab.session import LabSession, PackModel
from kei.hil.log.session_log import (
    BENCH_FILE,
    CYCLE_FILE,
    DESIGN_FILE,
    LOG_FORMAT,
    LOG_VERSION,
    LogWriter,
    read_log,
    sha256_file,
)
from kei.hil.log.summary import summarize
from kei.hil.session.pacing import Pacer, pace_name, parse_pace
from kei.hil.session.runner import (
    Outcome,
    _pack_messages,
    _progress_bar,
    _session_parts,
    _versions,
    default_log_dir,
    resume_point,
)
from kei.hil.wire.protocol import Configure
from kei.vehicle.cycles import BUNDLED, DERIVED, load_cycle
from kei.vehicle.files import load_vehicle, vehicle_path
from kei.vehicle.predict import predict

LAB_KIND = "lab"
EMULATOR_LOG_FILE = "device.log"
GUARD_LOG_FILE = "guard.log"


def _speedup(config: LabConfig, pace: str | None) -> float:
    """A wall-clock bench runs at the battery's pace: realtime on hardware, the emulator's time scale."""
    if config.clock == "host":
        return parse_pace(pace or "max")
    scale = config.emulator.time_scale if config.emulated else 1.0
    speedup = parse_pace(pace or ("realtime" if scale == 1.0 else f"x{scale:g}"))
    if speedup != scale:
        raise UsageError("--pace", f"a wall-clock lab bench runs at x{scale:g} (a real battery discharges in real "
                         f"time); got {pace!r}")
    return speedup


def _endpoints(config: LabConfig, emulator: LabEmulator | None) -> tuple[str, str]:
    if emulator is not None:
        return emulator.info["scpi"], emulator.info["bms"]
    return config.instrument.resource, config.bms.port


def _start_guard(config: LabConfig, resource: str, log_dir: Path):
    if not config.safety.guard:
        return None
    s = config.instrument
    cmd = [sys.executable, "-m", "kei.hil.lab.guard", "--host-pid", str(os.getpid()), "--model", s.model,
           "--resource", resource, "--visa-library", s.visa_library, "--timeout-s", f"{s.timeout_s:g}",
           "--poll-s", f"{config.safety.guard_poll_s:g}", "--log", str(log_dir)]
    with open(log_dir / GUARD_LOG_FILE, "ab") as err:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)


def _stop_guard(guard) -> None:
    if guard is not None and guard.poll() is None:
        guard.terminate()
        try:
            guard.wait(timeout=5)
        except subprocess.TimeoutExpired:
            guard.kill()


def run_lab_session(design, cycle_name: str, *, bench_config, pace: str | None = None, log_dir=None,
                    max_steps: int | None = None, progress: bool = True, on_log_created=None) -> Outcome:
    design = vehicle_path(design)
    vehicle = load_vehicle(design)
    cycle = load_cycle(cycle_name)
    bench_config = Path(bench_config)
    config = load_lab_config(bench_config)
    check_ratings(config.limits, SCPI_MODELS[config.instrument.model], str(bench_config))
    speedup = _speedup(config, pace)
    ocv, configure, pack_info = _pack_messages(vehicle, design)
    prediction = predict(vehicle, cycle)  # the one energy-model run, as on the kei-protocol bench
    parts = _session_parts(prediction, config, configure, max_steps)
    predicted = prediction.figures()
    log_dir = Path(log_dir) if log_dir else default_log_dir(design, cycle_name)
    user_csv = cycle_name not in BUNDLED and cycle_name not in DERIVED
    link = {"kind": LAB_KIND, "port": config.instrument.resource, "emulator": LAB_KIND if config.emulated else None,
            "bms_port": config.bms.port, "bms_protocol": config.bms.protocol}
    header = {
        "format": LOG_FORMAT, "version": LOG_VERSION, "bench": LAB_KIND,
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "design": {"name": vehicle.name, "path": str(design.resolve()), "file": DESIGN_FILE, "sha256": sha256_file(design)},
        "cycle": CYCLE_FILE if user_csv else cycle_name, "cycle_source": str(Path(cycle_name).resolve()) if user_csv else "bundled",
        "link": link, "pace": pace_name(speedup), "inject": None, "max_steps": max_steps,
        "bench_config": {"source": str(bench_config), "sha256": sha256_file(bench_config), "values": config.as_dict()},
        "pack": {**pack_info, "ocv_table": dataclasses.asdict(ocv), "configure": dataclasses.asdict(configure)},
        "predicted": predicted,
        "profile": {"steps_per_cycle": parts.profile.steps, "cycle_duration_s": parts.profile.duration_s,
                    "cycle_distance_km": parts.profile.distance_km},
        "versions": _versions(),
    }
    log = LogWriter.create(log_dir, header, design, bench_config.read_text(), cycle_csv=Path(cycle_name) if user_csv else None,
                           sync_interval_s=config.log.sync_interval_s)
    if on_log_created is not None:
        on_log_created(log_dir)
    log.event("session_start", design=str(design), cycle=cycle_name, bench=LAB_KIND, instrument=config.instrument.model,
              bms=config.bms.protocol, pace=pace_name(speedup))
    emulator = None
    try:
        if config.emulated:
            emulator = start_lab_emulator(config, write_pack(log_dir, configure, ocv), log_dir / EMULATOR_LOG_FILE)
            log.event("device_started", emulator=LAB_KIND, pid=emulator.pid, port=emulator.info["bms"], info=emulator.info)
            log.flush()
    except BenchError as err:
        log.event("aborted", step=-1, error=str(err))
        log.close()
        raise SessionAborted(err, f"{err}\n  nothing was measured (log: {log_dir})") from err
    return _drive(log, log_dir, config, parts, configure, Pacer(speedup), None, emulator, predicted["predicted_range_km"],
                  progress)


def resume_lab_session(log_dir, *, pace: str | None = None, progress: bool = True) -> Outcome:
    log_dir = Path(log_dir)
    old = read_log(log_dir)
    if old.result is not None:
        return Outcome(summarize(old), log_dir)
    head = old.header
    vehicle = load_vehicle(log_dir / DESIGN_FILE)
    cycle_name = head["cycle"]
    cycle = load_cycle(log_dir / CYCLE_FILE if cycle_name == CYCLE_FILE else cycle_name)
    config = load_lab_config(log_dir / BENCH_FILE)
    speedup = _speedup(config, pace or head["pace"])
    pack = head["pack"]
    configure = Configure(**pack["configure"])
    parts = _session_parts(predict(vehicle, cycle), config, configure, head.get("max_steps"))
    start = resume_point(old, config, parts)
    emulator = None
    if config.emulated:
        emulator = adopt_lab_emulator(old.events)
        if emulator is None:
            raise DeviceUnavailable(f"{log_dir}: the emulated battery this session ran on is gone (its process "
                                    f"exited); an emulated pack cannot be put back where it was. Start a new run")
    log = LogWriter(log_dir, config.log.sync_interval_s).open()
    log.event("resume", step=start.logged_step, bench=LAB_KIND, adopted_device=emulator.pid if emulator else None,
              pace=pace_name(speedup))
    return _drive(log, log_dir, config, parts, configure, Pacer(speedup), start, emulator,
                  head["predicted"]["predicted_range_km"], progress)


def _drive(log: LogWriter, log_dir: Path, config: LabConfig, parts, configure: Configure, pacer: Pacer, start,
           emulator: LabEmulator | None, predicted_km: float, progress: bool) -> Outcome:
    resource, bms_port = _endpoints(config, emulator)
    instrument = open_instrument(config.instrument, resource)
    bms = bms_client(config.bms, bms_port, dbc=dbc_path(config.bms, config.source) if config.bms.protocol == "can" else None)
    lab_log = LabLog(log_dir).open(last_step=start.logged_step if start else None)
    log.sync_first(lab_log.sync)  # on disk before the steps.csv rows it goes with: never behind them
    guard = _start_guard(config, resource, log_dir)
    update, close_bar = _progress_bar(predicted_km, progress)
    session = LabSession(config=config, parts=parts, pack=PackModel.from_configure(configure), instrument=instrument,
                         bms=bms, log=log, lab_log=lab_log, pacer=pacer, start=start, progress=update)
    finished = False
    try:
        session.run()
        finished = True
    except BenchError as err:
        if session.logged < 0:
            raise SessionAborted(err, f"{err}\n  nothing was measured (log: {log_dir})") from err
        raise SessionAborted(err, f"{err}\n  the instrument output is {'off' if session.safe.done else 'NOT CONFIRMED OFF'}; "
                             f"the log {log_dir} holds every step up to {session.logged}; continue with: "
                             f"kei hil resume {log_dir}") from err
    finally:
        close_bar()
        instrument.close()
        bms.close()
        lab_log.close()
        if session.safe.done:  # the output is off: nothing left to guard
            _stop_guard(guard)
        if finished and emulator is not None:
            emulator.stop()
        log.event("timing", step=session.logged, seconds=session.timing)
        if finished:
            log.event("closed", step=session.logged)
        log.close()
    result = lab_result(log_dir)
    result.update(timing_s=session.timing)
    LogWriter(log_dir).result(result)
    return Outcome(result, log_dir)


def lab_result(log_dir: Path) -> dict:
    """The kei summary of the log plus what a lab run has beyond it."""
    log = read_log(log_dir)
    result = summarize(log)
    link = log.header["link"]
    lab = read_lab_log(log_dir)
    first = next((e for e in log.events if e.get("event") == "instrument"), {})
    result.update(log_dir=str(log_dir), bench=LAB_KIND, emulator=link.get("emulator"), port=link.get("port"),
                  bms_protocol=link.get("bms_protocol"), instrument=first.get("idn"),
                  regen_skipped_steps=int(lab["regen_skipped"].sum()),
                  safe_states=sum(e.get("event") in ("safe_state", "guard_safe_state") for e in log.events),
                  safe_state_failures=sum(e.get("event", "").endswith("safe_state_failed") for e in log.events))
    return result
