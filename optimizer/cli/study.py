"""`kei study pareto|sweep|breakeven|tornado|montecarlo|resume`: design studies (docs/studies.md).

Parsing and printing only: the studies are in `kei.optimizer.studies`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from kei.errors import EXIT_INFEASIBLE, UsageError
from kei.output import PLOT_SUFFIXES, check_output_path, print_json

RANGE_VALUE = re.compile(r"^[^=]+\*?=\s*[-+0-9.eE]+:[-+0-9.eE]+:[-+0-9.eE]+\s*$")
KINDS = ("pareto", "sweep", "breakeven", "tornado", "montecarlo")


def register(sub) -> None:
    p = sub.add_parser("study", help="design studies: Pareto fronts, sweeps, break-even, tornado, Monte Carlo",
                       description="Many verified solves of one problem, on local cores (default) or a Ray "
                       "cluster; each point is appended to a study file as it completes (see docs/studies.md).")
    kinds = p.add_subparsers(dest="study", metavar="STUDY")
    kinds.required = True

    def add(name: str, help_text: str):
        q = kinds.add_parser(name, help=help_text, description=help_text)
        q.add_argument("problem", help="problem: a TOML file or a bundled name (us_kei_15k, ...)")
        q.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                       help="any input by dotted key, for every point: KEY=VALUE sets it, KEY*=FACTOR multiplies "
                       "(e.g. price.tariff_rate_by_origin.MX=0.25, 'catalog.bodies.*.cost_usd*=0.9')")
        _common(q)
        q.set_defaults(func=run_study_command, kind=name)
        return q

    q = add("montecarlo", "draw the uncertain inputs: the probability of a design at the cap, with its interval")
    q.add_argument("--samples", type=int, required=True, metavar="N", help="number of samples")
    q.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the draws (default 0)")
    q.add_argument("--inputs", metavar="TOML", help="uncertain inputs (default configs/studies/uncertain_inputs.toml)")
    q = add("tornado", "each uncertain input at its low and high end: its effect on the floor price or range, sorted")
    q.add_argument("--inputs", metavar="TOML", help="uncertain inputs (default configs/studies/uncertain_inputs.toml)")
    q.add_argument("--metric", choices=("floor", "range", "price"), help="what to measure (default: floor for "
                   "max-range problems, price for min-price ones)")
    q = add("sweep", "one or two inputs over a grid (--set KEY=START:STOP:STEP)")
    q.add_argument("--metric", choices=("range", "price", "floor"), help="what to show (default: the objective)")
    q = add("breakeven", "the value of one input at which the verdict flips")
    q.add_argument("--vary", required=True, metavar="KEY[=LOW:HIGH]",
                   help="the input and its range (KEY*=LOW:HIGH multiplies); a key of the uncertain inputs may "
                   "omit the range")
    q.add_argument("--until", default="feasible", metavar="WHAT",
                   help="feasible (default), range=KM or price=USD")
    q.add_argument("--tol", type=float, metavar="T", help="bracket width in the key's units (default 0.1 %% of the range)")
    q = add("pareto", "the exact price-range front, each point a verified optimum")
    q.add_argument("--from", dest="start", type=float, metavar="X", help="lowest cap (USD) or range (km)")
    q.add_argument("--to", dest="stop", type=float, metavar="X", help="highest cap (USD) or range (km)")
    q.add_argument("--max-points", type=int, metavar="N", help="point budget (default configs/studies/settings.toml)")

    r = kinds.add_parser("resume", help="continue an interrupted study from its file (or summarize a finished one)")
    r.add_argument("file", help="the study file (.jsonl)")
    _common(r, new=False)
    r.set_defaults(func=run_resume_command)


def _common(q, new: bool = True) -> None:
    q.add_argument("--executor", default="pool", choices=("pool", "ray", "serial"),
                   help="pool: local processes over all cores (default); ray: a Ray cluster (pip install 'kei[ray]')")
    q.add_argument("--workers", type=int, metavar="N", help="worker processes (default: all cores)")
    q.add_argument("--address", metavar="ADDR", help="Ray cluster to join (with --executor ray; default: a local one)")
    if new:
        q.add_argument("--out", metavar="FILE", help="study file (.jsonl; default: PROBLEM-STUDY-N.jsonl here)")
        q.add_argument("--floor-engine", choices=("enumeration", "milp"),
                       help="how floor prices are found (default configs/studies/settings.toml)")
    q.add_argument("--json", action="store_true", help="print the result as one JSON object")
    q.add_argument("--plot", metavar="PNG", help="draw the study (.png, .pdf, .svg)")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")


class _Bar:
    """The progress bar: points per second and time left (tqdm, on stderr)."""

    def __init__(self, enabled: bool, label: str):
        self.enabled, self.label, self.bar = enabled, label, None

    def start(self, total, done):
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, initial=done, unit="pt", desc=self.label, file=sys.stderr, smoothing=0.1,
                            dynamic_ncols=True)
        else:
            self.bar.total = (self.bar.total or 0) + (total or 0)
            self.bar.update(done)

    def update(self, n):
        if self.enabled:
            if self.bar is None:
                self.start(None, 0)
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _default_out(problem: str, kind: str) -> Path:
    stem = Path(problem).stem
    n = 1
    while Path(f"{stem}-{kind}-{n}.jsonl").exists():
        n += 1
    return Path(f"{stem}-{kind}-{n}.jsonl")


def run_study_command(args) -> int:
    from kei.optimizer import studies
    from kei.optimizer.studies.overrides import parse_override
    from kei.optimizer.studies.uncertain import load_uncertain_inputs

    out = check_output_path(args.out, "--out", (".jsonl",)) if args.out else _default_out(args.problem, args.kind)
    check_output_path(args.plot, "--plot", PLOT_SUFFIXES)
    fixed, vary = [], []
    for text in args.overrides:
        (vary if args.kind == "sweep" and RANGE_VALUE.match(text) else fixed).append(text)
    options = {"overrides": tuple(parse_override(t) for t in fixed), "file": out, "executor": args.executor,
               "workers": args.workers, "address": args.address, "floor_engine": args.floor_engine,
               "progress": _Bar(not args.no_progress, args.kind)}
    if args.kind == "montecarlo":
        if args.samples < 1:
            raise UsageError("--samples", f"must be at least 1, got {args.samples}")
        result = studies.montecarlo(args.problem, samples=args.samples, seed=args.seed,
                                    inputs=load_uncertain_inputs(args.inputs), **options)
    elif args.kind == "tornado":
        result = studies.tornado(args.problem, inputs=load_uncertain_inputs(args.inputs), metric=args.metric, **options)
    elif args.kind == "sweep":
        if not vary:
            raise UsageError("--set", "a sweep needs one or two KEY=START:STOP:STEP")
        result = studies.sweep(args.problem, vary=vary, metric=args.metric, **options)
    elif args.kind == "breakeven":
        result = studies.breakeven(args.problem, vary=args.vary, until=args.until, tol=args.tol, **options)
    else:
        if args.max_points is not None and args.max_points < 3:
            raise UsageError("--max-points", f"must be at least 3, got {args.max_points}")
        result = studies.pareto(args.problem, start=args.start, stop=args.stop, max_points=args.max_points, **options)
    return _show(result, args)


def run_resume_command(args) -> int:
    from kei.optimizer import studies

    check_output_path(args.plot, "--plot", PLOT_SUFFIXES)
    result = studies.resume(args.file, executor=args.executor, workers=args.workers, address=args.address,
                            progress=_Bar(not args.no_progress, "resume"))
    return _show(result, args)


def _show(result, args) -> int:
    from kei.optimizer.studies import STUDIES

    if args.plot:
        from kei.optimizer.studies.plots import plot_study

        plot_study(result, args.plot)
    if args.json:
        print_json(result.to_dict())
    else:
        print(STUDIES[result.kind].table(result))
        rate = result.solved / result.seconds if result.seconds > 0 else 0.0
        print(f"\n{len(result.rows):,} points ({result.solved:,} solved now in {result.seconds:.1f} s, "
              f"{rate:.1f} points/s); study file {result.file} (kei study resume {result.file})")
        if args.plot:
            print(f"plot written to {args.plot}")
    s = result.summary
    if (result.kind == "breakeven" and not s["found"]) or (result.kind == "pareto" and not s["points"]):
        return EXIT_INFEASIBLE
    return 0
