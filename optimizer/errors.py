"""The one exception tree of the optimizer package.

Every error a user can cause names where it came from: the file and key of a config, the file and
row of a cycle, the requirements that conflict in a problem.
"""
from __future__ import annotations


class KeiError(Exception):
    """Base of every error kei raises on purpose."""


class ConfigError(KeiError):
    """A config file (vehicle, catalog, problem, defaults) is malformed or inconsistent."""

    def __init__(self, file: str, key: str | None, message: str):
        self.file = str(file)
        self.key = key
        self.message = message
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {message}")


class CycleError(KeiError):
    """A drive cycle is unknown or its file is malformed."""

    def __init__(self, file: str, row: int | None, message: str):
        self.file = str(file)
        self.row = row
        where = f"{self.file}, row {row}" if row is not None else self.file
        super().__init__(f"{where}: {message}")


class InfeasibleError(KeiError):
    """No design meets the problem; `explanation` says which requirements conflict and by how much."""

    def __init__(self, explanation: str, details: dict | None = None):
        self.explanation = explanation
        self.details = details or {}
        super().__init__(explanation)


class SolverError(KeiError):
    """The MILP solver failed for a reason other than infeasibility (time limit, numerical trouble)."""
