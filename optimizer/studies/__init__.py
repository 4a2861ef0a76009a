"""Design studies: how the answer moves with its inputs (`kei study ...`, docs/studies.md).

    from kei.optimizer import studies
    mc = studies.montecarlo("us_kei_15k", samples=10000, seed=1)           # local cores
    mc = studies.montecarlo("us_kei_15k", samples=10000, seed=1, executor="ray")
    front = studies.pareto("us_kei_15k")
    grid = studies.sweep("us_kei_15k", vary=["price.tariff_rate_by_origin.MX=0:0.25:0.05"])
    flip = studies.breakeven("us_kei_15k", vary="catalog.bodies.*.cost_usd*=0.5:1.0")
    bars = studies.tornado("us_kei_15k")
    again = studies.resume("study.jsonl")

Every point is a fresh, correctly screened `kei.solve` of the problem with the point's overrides
(`points.py`), solved by an executor (`executors.py`) and written to the study file as it completes
(`studyfile.py`). Each returns a `StudyResult` (`to_dict()`, `summary`, `rows`, `file`).
"""
from __future__ import annotations

from kei.optimizer.studies import breakeven as _breakeven
from kei.optimizer.studies import montecarlo as _montecarlo
from kei.optimizer.studies import pareto as _pareto
from kei.optimizer.studies import sweep as _sweep
from kei.optimizer.studies import tornado as _tornado
from kei.optimizer.studies.overrides import Override, parse_override
from kei.optimizer.studies.runner import StudyResult, resume_study, run_study
from kei.optimizer.studies.uncertain import UncertainInput, load_uncertain_inputs

STUDIES = {"pareto": _pareto, "sweep": _sweep, "breakeven": _breakeven, "tornado": _tornado,
           "montecarlo": _montecarlo}

__all__ = ["pareto", "sweep", "breakeven", "tornado", "montecarlo", "resume", "StudyResult", "Override",
           "parse_override", "UncertainInput", "load_uncertain_inputs", "STUDIES"]


def _fixed(overrides) -> tuple[Override, ...]:
    return tuple(o if isinstance(o, Override) else parse_override(o) for o in overrides)


def _run(kind: str, problem, params: dict, overrides, options: dict) -> StudyResult:
    return run_study(kind, problem, params, overrides=_fixed(overrides), **options)


def montecarlo(problem, *, samples: int, seed: int = 0, inputs=None, overrides=(), **options) -> StudyResult:
    """The share of `samples` draws of the uncertain inputs in which a design meets the problem.
    options: file=, executor= ("pool", "ray", "serial"), workers=, address=, progress=, floor_engine=."""
    inputs = load_uncertain_inputs(inputs) if inputs is None or not isinstance(inputs, tuple) else inputs
    return _run("montecarlo", problem, _montecarlo.params(samples, seed, inputs), overrides, options)


def tornado(problem, *, inputs=None, metric: str | None = None, overrides=(), **options) -> StudyResult:
    """Each uncertain input at its low and high value, sorted by its effect on `metric`."""
    inputs = load_uncertain_inputs(inputs) if inputs is None or not isinstance(inputs, tuple) else inputs
    return _run("tornado", problem, _tornado.params(inputs, metric), overrides, options)


def sweep(problem, *, vary, metric: str | None = None, overrides=(), **options) -> StudyResult:
    """One or two keys over START:STOP:STEP (`vary` entries such as "price.tariff_rate_by_origin.MX=0:0.25:0.05")."""
    return _run("sweep", problem, _sweep.params(vary, metric), overrides, options)


def breakeven(problem, *, vary: str, until: str = "feasible", tol: float | None = None, overrides=(),
              **options) -> StudyResult:
    """The value of one key (`vary` "KEY=LOW:HIGH", or a key of the uncertain inputs) at which the verdict flips."""
    return _run("breakeven", problem, _breakeven.params(vary, until, tol), overrides, options)


def pareto(problem, *, start: float | None = None, stop: float | None = None, max_points: int | None = None,
           overrides=(), **options) -> StudyResult:
    """The exact price-range front: max range over the price cap (or min price over the range)."""
    return _run("pareto", problem, _pareto.params(start, stop, max_points), overrides, options)


def resume(file, **options) -> StudyResult:
    """Continue an interrupted study from its file (or re-summarize a complete one)."""
    return resume_study(file, **options)
