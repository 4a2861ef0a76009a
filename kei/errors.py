"""The one exception tree of kei, and the exit code of each branch.

Every error a user can cause names where it came from: the file and key of a config, the file and
row of a cycle, the option on the command line, the requirements that conflict in a problem. The
bench adds its branch (`kei.hil.errors.BenchError`) under the same root. `kei` turns each into one
line on stderr and the exit code below (docs: `kei --help`, README "Exit codes"):

    0 done   1 internal error   2 usage   3 bad config or data   4 infeasible (an answer, printed in
    full)   5 device or link unavailable   6 result outside a tolerance the user set
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_INFEASIBLE = 4
EXIT_DEVICE = 5
EXIT_TOLERANCE = 6
EXIT_INTERRUPTED = 130   # the shell's convention for SIGINT
EXIT_CODES_HELP = ("exit codes: 0 done, 1 internal error, 2 usage, 3 bad config or data, "
                   "4 infeasible (the answer is printed in full), 5 device or link unavailable, "
                   "6 result outside a tolerance you set (e.g. --strict), 130 interrupted")


class KeiError(Exception):
    """Base of every error kei raises on purpose."""

    exit_code = EXIT_INTERNAL


class UsageError(KeiError):
    """A command-line option with a value that cannot work (`--top 0`, an output path in a missing
    folder); names the option."""

    exit_code = EXIT_USAGE

    def __init__(self, option: str, message: str):
        self.option = option
        super().__init__(f"{option}: {message}")


class ConfigError(KeiError):
    """A config file (vehicle, catalog, problem, defaults) is malformed or inconsistent."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, file: str, key: str | None, message: str):
        self.file = str(file)
        self.key = key
        self.message = message
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {message}")


class CycleError(KeiError):
    """A drive cycle is unknown or its file is malformed."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, file: str, row: int | None, message: str):
        self.file = str(file)
        self.row = row
        where = f"{self.file}, row {row}" if row is not None else self.file
        super().__init__(f"{where}: {message}")


class InfeasibleError(KeiError):
    """No design meets the problem; `explanation` says which requirements conflict and by how much."""

    exit_code = EXIT_INFEASIBLE

    def __init__(self, explanation: str, details: dict | None = None):
        self.explanation = explanation
        self.details = details or {}
        super().__init__(explanation)


class SolverError(KeiError):
    """The MILP solver failed for a reason other than infeasibility (time limit, numerical trouble)."""


class ToleranceError(KeiError):
    """A result fell outside a tolerance the user asked for (`--strict`, a bench band)."""

    exit_code = EXIT_TOLERANCE
