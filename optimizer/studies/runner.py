"""Running a study: its inputs recorded once, its points solved through an executor, every row in its file.

A study is a deterministic function of its spec and of its points' results: it asks for points
(`Run.solve`), in one batch or in rounds (a front is refined where it bends, a break-even value is
bracketed), and summarizes their rows. A resumed study asks for the same points in the same order
and finds the finished ones in its file, so it solves only what is missing and ends with the same
file and the same numbers.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from kei.errors import ConfigError, UsageError
from kei.optimizer.inputs.problem import Problem
from kei.optimizer.studies.executors import check_executor, open_executor
from kei.optimizer.studies.overrides import Override
from kei.optimizer.studies.points import Point, Task, evaluate_batch
from kei.optimizer.studies.settings import StudySettings, load_study_settings
from kei.optimizer.studies.sources import PointInputs, StudyInputs, record_inputs
from kei.optimizer.studies.studyfile import FORMAT, StudyFile
from kei.resources import NAME


class Progress(Protocol):
    """What a study reports while it runs (the CLI shows it as a progress bar)."""

    def start(self, total: int | None, done: int) -> None: ...
    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


@dataclass
class StudyResult:
    """What every study returns: its kind, spec, summary (the numbers), its rows and its file."""

    kind: str
    spec: dict
    summary: dict
    rows: list[dict]
    file: str | None = None
    seconds: float = 0.0
    solved: int = 0                 # points solved in this run (the others came from the file)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "problem": self.spec["problem"], "spec": self.spec, "file": self.file,
                "points": len(self.rows), "solved_this_run": self.solved, "wall_s": round(self.seconds, 3),
                **self.summary}


def _fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Run:
    """One run of a study: hands its points to the executor unless the study file has them."""

    problem: Problem                 # the problem with the study's fixed overrides
    fixed: tuple[Override, ...]      # overrides every point carries (--set KEY=VALUE)
    settings: StudySettings
    task: Task
    store: StudyFile
    open_executor: Callable[[], object]   # started on the first point the file does not have
    progress: Progress | None = None
    executor: object = None
    keys: list[str] = field(default_factory=list)
    solved: int = 0
    _next: int = 0

    def point(self, question: str, overrides=()) -> Point:
        """A new point (numbered in the order the study asks for them) with the fixed overrides."""
        p = Point(self._next, question, self.fixed + tuple(overrides))
        self._next += 1
        return p

    def solve(self, points: list[Point], *, total: int | None = None) -> list[dict]:
        """The results of `points`, in their order: from the file, or solved now (and appended)."""
        results: dict[str, dict] = {}
        todo = []
        for p in points:
            self.keys.append(p.key)
            row = self.store.get(p.key)
            if row is not None:
                results[p.key] = row["result"]
            else:
                todo.append(p)
        if self.progress is not None and total is not None:
            self.progress.start(total, len(points) - len(todo))
        if todo:
            if self.executor is None:
                self.executor = self.open_executor()
            workers = max(1, getattr(self.executor, "workers", 1))
            size = max(1, min(self.settings.max_points_per_task, math.ceil(len(todo) / (workers * 4))))
            batches = [todo[i:i + size] for i in range(0, len(todo), size)]
            for rows in self.executor.run(evaluate_batch, self.task, batches):
                for row in rows:
                    key = json.dumps([row["question"], row["set"]])
                    self.store.append(key, row)
                    results[key] = row["result"]
                self.solved += len(rows)
                if self.progress is not None:
                    self.progress.update(len(rows))
        return [results[p.key] for p in points]


def _problem_ref(problem) -> str:
    """The problem as the spec records it: a bundled name stays a name, a file becomes absolute."""
    text = str(problem)
    path = Path(text).expanduser()
    if not path.exists() and NAME.match(text) and not path.suffix:
        return text
    return str(path.resolve())


def run_study(kind: str, problem, params: dict, *, overrides=(), file=None, executor: str = "pool",
              workers: int | None = None, address: str | None = None, progress: Progress | None = None,
              floor_engine: str | None = None) -> StudyResult:
    """Start a study of `kind` (pareto, sweep, breakeven, tornado, montecarlo) on `problem`."""
    from kei import __version__

    check_executor(executor, workers=workers, address=address)
    settings = load_study_settings()
    inputs = record_inputs(problem)
    engine = floor_engine or settings.floor_engine
    if engine not in ("enumeration", "milp"):
        raise UsageError("--floor-engine", f"unknown engine {engine!r}; known: enumeration, milp")
    spec = {"problem": _problem_ref(problem), "set": [o.as_row() for o in overrides], "floor_engine": engine, **params}
    header = {"kei_study": FORMAT, "kind": kind, "spec": spec,
              "inputs": {path: _fingerprint(table) for path, table in inputs.tables.items()}, "kei": __version__}
    store = StudyFile.create(file, header)
    return _execute(store, inputs, settings, executor=executor, workers=workers, address=address, progress=progress)


def resume_study(file, *, executor: str = "pool", workers: int | None = None, address: str | None = None,
                 progress: Progress | None = None) -> StudyResult:
    """Continue (or, when complete, re-summarize) the study in `file`."""
    check_executor(executor, workers=workers, address=address)
    store = StudyFile.open(file)
    spec = store.header.get("spec", {})
    inputs = record_inputs(spec["problem"])
    recorded = store.header.get("inputs", {})
    for path, table in inputs.tables.items():
        if path in recorded and recorded[path] != _fingerprint(table):
            store.close()
            raise ConfigError(path, None, f"changed since the study in {file} started; its rows were solved on "
                              "the old file (restore it, or start a new study)")
    return _execute(store, inputs, load_study_settings(), executor=executor, workers=workers, address=address,
                    progress=progress)


def _execute(store: StudyFile, inputs: StudyInputs, settings: StudySettings, *, executor, workers, address,
             progress) -> StudyResult:
    from kei.optimizer.studies import STUDIES

    kind, spec = store.header["kind"], store.header["spec"]
    if kind not in STUDIES:
        store.close()
        raise ConfigError(str(store.path), "kind", f"unknown study kind {kind!r}; known: {', '.join(STUDIES)}")
    fixed = tuple(Override.from_row(r) for r in spec["set"])
    task = Task(inputs=inputs, floor_engine=spec["floor_engine"], key=_fingerprint([store.header["inputs"],
                                                                                    spec["floor_engine"]]))
    try:
        with PointInputs(inputs).serve(fixed) as (problem, _):
            pass
        start = time.perf_counter()
        run = Run(problem=problem, fixed=fixed, settings=settings, task=task, store=store, progress=progress,
                  open_executor=lambda: open_executor(executor, workers=workers, address=address))
        try:
            summary = STUDIES[kind].study(spec, run)
        finally:
            if run.executor is not None:
                run.executor.close()
        seconds = time.perf_counter() - start
    except BaseException:
        store.close()
        if store.created and not store.rows and store.path is not None:
            store.path.unlink()   # failed before its first point: leave no file to resume
        raise
    finally:
        if progress is not None:
            progress.close()
        store.close()
    store.finish(run.keys)
    rows = [store.rows[k] for k in dict.fromkeys(run.keys)]
    return StudyResult(kind=kind, spec=spec, summary=summary, rows=rows,
                       file=None if store.path is None else str(store.path), seconds=seconds, solved=run.solved)

