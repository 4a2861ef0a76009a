"""`kei hil report LOGDIR [--plot PNG] [--json]`: summarize a session log (finished or not) and plot
speed, current, voltage and SOC against time, measured on the bench against the model's prediction."""
from __future__ import annotations

from kei.hil.log.session_log import read_log
from kei.hil.log.summary import summarize
from kei.hil.log.text import format_result
from kei.output import PLOT_SUFFIXES, check_output_path, print_json


def register(sub) -> None:
    p = sub.add_parser("report", help="summarize a session log; --plot draws it against the prediction")
    p.add_argument("log_dir", metavar="LOGDIR")
    p.add_argument("--plot", metavar="PNG", help="speed, current, voltage and SOC against time (.png, .pdf, .svg)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_report)


def run_report(args) -> int:
    check_output_path(args.plot, "--plot", PLOT_SUFFIXES)
    log = read_log(args.log_dir, load_steps=bool(args.plot))  # without a plot the rows are streamed
    result = dict(log.result) if log.result is not None else summarize(log)
    result.setdefault("log_dir", str(log.dir))
    if args.plot:
        from kei.hil.log.plot import plot_session

        plot_session(log, args.plot)
    if args.json:
        print_json(result)
    else:
        print(format_result(result))
        if result.get("cutoff_reason") == "unfinished":
            print(f"  (unfinished: continue with kei hil resume {log.dir})")
        if args.plot:
            print(f"  plot written to {args.plot}")
    return 0
