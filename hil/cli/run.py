"""`kei hil run` and `kei hil resume`: drive a design on a BMS until it cuts off, and continue an
interrupted session."""
from __future__ import annotations

import json
import sys

from kei.errors import UsageError
from kei.hil.link.devices import DEVICE_KINDS
from kei.hil.session.runner import Outcome, resume_session, run_session


def _link_args(p, required: bool) -> None:
    where = p.add_mutually_exclusive_group(required=required)
    where.add_argument("--port", metavar="URL", help="serial port or pyserial URL: /dev/ttyUSB0, /dev/pts/N, "
                       "socket://host:port, rfc2217://host:port")
    where.add_argument("--emulator", choices=list(DEVICE_KINDS), help="start a device process: " + "; ".join(
        f"{k.name} ({k.description})" for k in DEVICE_KINDS.values()))


def register(sub) -> None:
    p = sub.add_parser("run", help="stream a design's drive profile to a BMS until it cuts off; measure the range")
    p.add_argument("design", help="design or vehicle: a TOML file or a bundled name (us_kei_150km)")
    p.add_argument("--cycle", default="wltc_jp", help="bundled cycle name or a CSV path (default: wltc_jp)")
    _link_args(p, required=True)
    p.add_argument("--pace", default=None, help="max (as fast as the line allows), realtime, or xN (N times real "
                   "time); default: max on an emulator, realtime on a port")
    p.add_argument("--inject", metavar="SPEC", help="fault injection on the link, e.g. "
                   "ber=1e-4,drop=1e-3,garbage=0.002:32,pause=3@1500,disconnect@4000,seed=1 (docs/hil.md)")
    p.add_argument("--log", metavar="DIR", help="session log directory (default: runs/<time>_<design>_<cycle>/)")
    p.add_argument("--bench-config", metavar="FILE", default=None,
                   help="bench settings (default: configs/bench.toml)")
    p.add_argument("--baud-pace", type=int, metavar="BAUD",
                   help="emulator only: pace both directions of its pty like a full-duplex UART at BAUD 8N1")
    p.add_argument("--max-steps", type=int, metavar="N", help="end after N steps (a smoke test, a benchmark)")
    p.add_argument("--json", action="store_true", help="print one JSON object (no progress bar)")
    p.set_defaults(func=run_run)

    p = sub.add_parser("resume", help="continue an interrupted session from its log (host killed, cable pulled, "
                       "device reset)")
    p.add_argument("log_dir", metavar="LOGDIR")
    _link_args(p, required=False)
    p.add_argument("--pace", default=None, help="override the session's pacing")
    p.add_argument("--inject", metavar="SPEC", help="fault injection for the resumed part (not inherited)")
    p.add_argument("--json", action="store_true", help="print one JSON object (no progress bar)")
    p.set_defaults(func=run_resume)


def run_run(args) -> int:
    pace = args.pace or ("max" if args.emulator else "realtime")
    if args.baud_pace and not args.emulator:
        raise UsageError("--baud-pace", "paces an emulator's pty (both directions); a real port runs at its own rate")
    if args.max_steps is not None and args.max_steps < 1:
        raise UsageError("--max-steps", f"must be >= 1, got {args.max_steps}")
    started = {}
    try:
        outcome = run_session(args.design, args.cycle, port=args.port, emulator=args.emulator, pace=pace,
                              inject=args.inject, log_dir=args.log, bench_config=args.bench_config,
                              baud_pace=args.baud_pace, max_steps=args.max_steps, progress=not args.json,
                              on_log_created=lambda d: started.setdefault("log", d))
    except KeyboardInterrupt:
        return _interrupted(started.get("log"))
    return _print(outcome, args.json)


def run_resume(args) -> int:
    try:
        outcome = resume_session(args.log_dir, port=args.port, emulator=args.emulator, pace=args.pace,
                                 inject=args.inject, progress=not args.json)
    except KeyboardInterrupt:
        return _interrupted(args.log_dir)
    return _print(outcome, args.json)


def _interrupted(log_dir) -> int:
    if log_dir is not None:
        print(f"kei: interrupted; the log {log_dir} holds every completed step; continue with: "
              f"kei hil resume {log_dir}", file=sys.stderr)
    else:
        print("kei: interrupted", file=sys.stderr)
    return 130


def _print(outcome: Outcome, as_json: bool) -> int:
    r = outcome.result
    if as_json:
        print(json.dumps(r, indent=2))
        return 0
    print(format_result(r))
    return 0


def _fmt(x, spec: str, none: str = "n/a") -> str:
    return none if x is None else format(x, spec)


def format_result(r: dict) -> str:
    where = f"{r.get('emulator')} emulator on {r.get('port')}" if r.get("emulator") else r.get("port")
    pr = r.get("predicted_range_km")
    lines = [f"{r.get('design')} on {r.get('cycle')} over {where}"]
    lines.append(f"  measured range      {r['measured_range_km']:8.1f} km   (predicted {_fmt(pr, '.1f')} km, "
                 f"{_fmt(r.get('range_difference_percent'), '+.2f')} %)")
    if r.get("label_range_km") is not None:
        lines.append(f"  label range         {r['label_range_km']:8.1f} km   (the model's, with the cycle's range factor)")
    lines.append(f"  ended by            {r['cutoff_reason']}: {r['cutoff_detail']}")
    if r.get("energy_delivered_wh") is not None:
        lines.append(f"  energy delivered    {r['energy_delivered_wh'] / 1000:8.2f} kWh at the terminals, "
                     f"{_fmt(r.get('energy_wh_per_km'), '.1f')} Wh/km")
        lines.append(f"  SOC                 estimate {100 * r['soc_estimate_final']:.2f} %, true "
                     f"{_fmt(r['soc_true_final'] and 100 * r['soc_true_final'], '.2f')} %, max estimation error "
                     f"{_fmt(r['soc_estimate_error_max'] and 100 * r['soc_estimate_error_max'], '.2f')} %")
        lines.append(f"  BMS limits          {r['limited_steps']} steps limited by the BMS "
                     f"(trace asked {r['trace_distance_km']:.1f} km)")
    lines.append(f"  steps               {r['steps']} ({r['cycles']:.2f} cycles) in {r['elapsed_s']:.1f} s"
                 + (f", {r['steps_per_s']:.0f} steps/s" if r.get("steps_per_s") else ""))
    lines.append(f"  link                {r['frames_sent']} frames sent, {r['frames_retried']} retried, "
                 f"{r['crc_errors']} CRC errors, {r['nacks']} NACKs, {r['timeouts']} timeouts, "
                 f"{r['reconnects']} reconnects, {r['device_restores']} device restores")
    if r.get("injected"):
        lines.append("  injected faults     " + ", ".join(f"{k} {v}" for k, v in r["injected"].items() if v))
    lines.append(f"  log                 {r.get('log_dir')}  (kei hil report {r.get('log_dir')} --plot run.png)")
    return "\n".join(lines)
