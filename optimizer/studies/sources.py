"""The config files a study's solves read, parsed once, and each point's variant of them.

The driver loads the problem once and records every TOML table the loaders read (problem, price
model, regulations, catalog, model defaults, solver settings): `StudyInputs`. The tables travel to
the workers with the study, so a worker, local or on a Ray cluster, parses nothing, and every point
starts from the same inputs the driver saw. For one point, `PointInputs.serve(overrides)` applies the
overrides (copying only the tables they change) and serves the tables to the ordinary loaders for
the duration of the point: `kei.solve` inside it reads the variant as if it were on disk.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from kei.errors import ConfigError
from kei.optimizer.inputs.catalog import FILE_NAMES
from kei.optimizer.inputs.problem import Problem, load_problem
from kei.optimizer.solving.pipeline import load_catalog_for
from kei.optimizer.solving.solver import load_solver_settings
from kei.optimizer.studies.overrides import Override, SourceFiles, apply_overrides
from kei.resources import config_file
from kei.schema import read_toml, served_tables
from kei.vehicle.files import load_model_defaults


@lru_cache(maxsize=1024)
def _key(path: Path | str) -> str:
    """A file's table key: its resolved path (the loaders name files in several ways)."""
    return str(Path(path).resolve())


@dataclass(frozen=True)
class StudyInputs:
    """What every point of a study starts from: the problem file and the parsed tables it reads."""

    problem: str                    # the problem file, resolved (a bundled name becomes its path)
    tables: dict                    # resolved path -> parsed TOML table


def record_inputs(problem: str | Path) -> StudyInputs:
    """Load the problem and everything a solve of it reads, once, keeping every table parsed."""
    tables: dict[str, dict] = {}

    def reading(path: Path):
        with served_tables(lambda _: None):   # the real file, parsed as read_toml does
            table = read_toml(path)
        tables[_key(path)] = table
        return table

    with served_tables(reading):
        loaded = load_problem(problem)
        load_catalog_for(loaded)
        load_model_defaults()
        load_solver_settings()
    return StudyInputs(problem=_key(loaded.file), tables=tables)


def source_files(problem: Problem) -> SourceFiles:
    """The file each override source stands for, as this problem resolves them."""
    if problem.catalog_dir is not None:
        catalog = {kind: Path(problem.catalog_dir) / name for kind, name in FILE_NAMES.items()}
    else:
        catalog = {kind: config_file(f"catalog/{name}") for kind, name in FILE_NAMES.items()}
    return SourceFiles(problem=Path(_key(problem.file)), price=Path(_key(problem.price.file)),
                       catalog={k: Path(_key(p)) for k, p in catalog.items()},
                       defaults=Path(_key(config_file("model_defaults.toml"))),
                       regulations=Path(_key(config_file("regulations.toml"))), profile=problem.limits.profile)


class PointInputs:
    """A worker's view of the study inputs: serves each point's variant of the tables."""

    def __init__(self, inputs: StudyInputs):
        self.inputs = inputs
        self._base = dict(inputs.tables)   # plus any file a point reads that the driver's solve did not
        with served_tables(self._table({})):
            self.files = source_files(load_problem(inputs.problem))

    def _table(self, changed: dict):
        def table(path: Path) -> dict:
            key = _key(path)
            if key in changed:
                return changed[key]
            if key not in self._base:  # a file the driver's solve did not read (a switched price model)
                with served_tables(lambda _: None):
                    self._base[key] = read_toml(key)
            return self._base[key]
        return table

    @contextmanager
    def serve(self, overrides: tuple[Override, ...]) -> Iterator[tuple[Problem, dict]]:
        """Within the block the loaders read this point's tables; yields the point's Problem and
        the tables its overrides changed (path -> table)."""
        try:
            files = self.files
            changed = apply_overrides(self._table({}), files, [o for o in overrides if o.source == "problem"])
            if changed:  # the problem may name another price model, catalog or profile now
                with served_tables(self._table(changed)):
                    files = source_files(load_problem(self.inputs.problem))
            changed.update(apply_overrides(self._table(changed), files, overrides, skip_problem=True))
            with served_tables(self._table(changed)):
                yield load_problem(self.inputs.problem), changed
        except ConfigError as err:
            if not overrides:
                raise
            shown = ", ".join(o.text for o in overrides)
            raise ConfigError(err.file, err.key, f"{err.message} (with the study's overrides {shown})") from err
