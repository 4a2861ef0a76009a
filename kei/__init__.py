"""kei: design small, cheap electric cars with a MILP and prove them on a BMS bench.

The shared core lives here (errors, schema, resources, units and the vehicle model in
`kei.vehicle`); the two halves are `kei.optimizer` (catalogs + problem -> verified design) and
`kei.hil` (design -> measured range on a bench). The core imports neither half: `kei.solve` is
looked up in `kei.optimizer` the first time it is used. The API is documented in docs/api.md.

    import kei
    result = kei.simulate("nissan_sakura", cycle="wltc_jp")
    solution = kei.solve("us_kei_150km")
"""
from __future__ import annotations

from importlib import metadata as _metadata

from kei.errors import ConfigError, CycleError, InfeasibleError, KeiError, SolverError
from kei.vehicle import Cycle, SimResult, Vehicle, load_cycle, load_vehicle, simulate

try:
    __version__ = _metadata.version("kei")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

# Names served by the optimizer half, imported on first use (the core never imports a half).
_LAZY = {"solve": "kei.optimizer", "load_problem": "kei.optimizer", "Solution": "kei.optimizer"}

__all__ = ["__version__", "simulate", "solve", "load_vehicle", "load_cycle", "load_problem", "Vehicle", "Cycle",
           "SimResult", "Solution", "KeiError", "ConfigError", "CycleError", "InfeasibleError", "SolverError"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kei' has no attribute {name!r}")
