"""`kei hil run` and `kei hil resume`: drive a design on a BMS until it cuts off, and continue an
interrupted session."""
from __future__ import annotations

import sys

from kei.errors import UsageError
from kei.hil.link.devices import DEVICE_KINDS
from kei.hil.log.text import format_result
from kei.hil.session.runner import Outcome, resume_session, run_session
from kei.output import print_json


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
    _link_args(p, required=False)
    p.add_argument("--pace", default=None, help="max (as fast as the line allows), realtime, or xN (N times real "
                   "time); default: max on an emulator, realtime on a port (a lab bench: its battery's pace)")
    p.add_argument("--inject", metavar="SPEC", help="fault injection on the link, e.g. "
                   "ber=1e-4,drop=1e-3,garbage=0.002:32,pause=3@1500,disconnect@4000,seed=1 (docs/hil.md)")
    p.add_argument("--log", metavar="DIR", help="session log directory (default: runs/<time>_<design>_<cycle>/)")
    p.add_argument("--bench-config", metavar="FILE", default=None,
                   help="bench settings (default: configs/bench.toml); a lab bench config (configs/lab/lab.toml, "
                   "docs/lab.md) drives a source/load and a production BMS instead of --port / --emulator")
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
    from kei.hil.lab.config import is_lab_config

    lab = is_lab_config(args.bench_config)
    if lab and (args.port or args.emulator or args.inject or args.baud_pace):
        raise UsageError("--bench-config", "a lab bench config names its instrument and BMS itself; drop --port, "
                         "--emulator, --inject and --baud-pace")
    if not lab and not (args.port or args.emulator):
        raise UsageError("--port/--emulator", "one is required (or a lab bench config: --bench-config lab.toml)")
    pace = args.pace if lab else args.pace or ("max" if args.emulator else "realtime")
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
    if outcome.note:
        print(f"kei: {outcome.note}", file=sys.stderr)
    if as_json:
        print_json(r)
        return 0
    print(format_result(r))
    return 0
