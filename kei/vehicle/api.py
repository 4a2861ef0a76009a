"""The vehicle model's front door for Python users: names, paths or objects, as on the command line."""
from __future__ import annotations

from pathlib import Path

from kei.vehicle.cycles import Cycle, load_cycle
from kei.vehicle.energy import SimResult
from kei.vehicle.energy import simulate as _simulate
from kei.vehicle.files import Vehicle, load_vehicle


def simulate(vehicle: Vehicle | str | Path, cycle: Cycle | str | Path = "wltc_jp") -> SimResult:
    """Simulate `vehicle` (a Vehicle, a vehicle or design file, or a bundled name such as
    "nissan_sakura") on `cycle` (a Cycle, a bundled name such as "wltc_jp", or a CSV path).

        result = kei.simulate("nissan_sakura", cycle="wltc_jp")
        result.range_km, result.energy_wh_per_km, result.to_dict()
    """
    v = vehicle if isinstance(vehicle, Vehicle) else load_vehicle(vehicle)
    c = cycle if isinstance(cycle, Cycle) else load_cycle(cycle)
    return _simulate(v, c)
