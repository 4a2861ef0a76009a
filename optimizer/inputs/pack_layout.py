"""The most strings in parallel each cell may have: a model bound derived from the catalog's volumes.

A pack of p strings of s cells of cell c takes p s v_c / r of pack space (v_c the cell's volume, r
`pack.cell_to_pack_volume_ratio`), and s is at least the fewest cells in series that put an empty
pack inside some drive unit's DC window (`ceil(V_min motor / V_min cell)`, and `pack.min_series`).
So no pack of more than

    P_c = floor(largest body battery_volume_l / (s_min,c x v_c / r))

strings fits any body of the catalog with any of its drive units: the bound cuts no design the
catalog's other figures allow. It replaces the round `max_parallel = 24` that once made "no design
reaches 300 km at any price" an artifact of the bound. It is still a *model* bound: it rests on the
bodies' battery-space estimates and the cell-to-pack volume ratio, and a report says so.

`pack.max_parallel`, when a catalog sets it, caps every cell further (an explicit model bound, e.g.
for a lab that builds no more than so many strings); it is reported as such.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from kei.optimizer.inputs.parts import Catalog, CellSpec

EPS = 1e-9  # voltage and volume ratios that are whole numbers stay whole


@dataclass(frozen=True)
class ParallelLimit:
    cell: str
    max_parallel: int        # the bound the model uses (>= pack.min_parallel, or 0 if the cell fits no pack)
    derived: int             # the volume-derived bound alone
    series: int              # the fewest cells in series a drive unit takes (s_min)
    motor: str               # the drive unit whose window sets s_min ("" if none admits the cell)
    body: str                # the body with the largest battery space
    body_volume_l: float
    explicit: bool           # True where pack.max_parallel caps below the derived bound

    def text(self, volume_ratio: float) -> str:
        """The bound and where it comes from, for reports and explanations."""
        if self.explicit:
            return (f"the catalog's pack-layout limit of {self.max_parallel} parallel strings (pack.max_parallel in "
                    f"pack.toml, a model bound; the battery space alone allows {self.derived})")
        return (f"the catalog's pack-layout limit of {self.max_parallel} parallel strings of {self.cell}, a model bound "
                f"derived from volume: the largest battery space (body {self.body}, {self.body_volume_l:g} L, an "
                f"estimate) at cell/pack volume ratio {volume_ratio:g} holds no more at the fewest cells in series "
                f"a drive unit takes ({self.series}, motor {self.motor})")


def fewest_series(cell: CellSpec, catalog: Catalog) -> tuple[int, str]:
    """(s_min, motor id): the fewest cells in series of `cell` inside some drive unit's window
    (empty pack at its lowest input voltage, full pack at most its highest); (0, "") if none."""
    pack = catalog.pack
    best, which = 0, ""
    for m in catalog.motors:
        lo = max(pack.min_series, math.ceil(m.min_voltage_v / cell.min_voltage_v - EPS))
        hi = min(pack.max_series, math.floor(m.max_voltage_v / cell.max_voltage_v + EPS))
        if lo <= hi and (not best or lo < best):
            best, which = lo, m.id
    return best, which


def parallel_limits(catalog: Catalog) -> tuple[ParallelLimit, ...]:
    """One ParallelLimit per catalog cell, in catalog order."""
    pack = catalog.pack
    body = max(catalog.bodies, key=lambda b: b.battery_volume_l)
    out = []
    for c in catalog.cells:
        series, motor = fewest_series(c, catalog)
        pack_l = c.volume_l / pack.cell_to_pack_volume_ratio
        derived = math.floor(body.battery_volume_l / (series * pack_l) + EPS) if series else 0
        limit = derived if pack.max_parallel is None else min(derived, pack.max_parallel)
        out.append(ParallelLimit(cell=c.id, max_parallel=limit if limit >= pack.min_parallel else 0, derived=derived,
                                 series=series, motor=motor, body=body.id, body_volume_l=body.battery_volume_l,
                                 explicit=pack.max_parallel is not None and pack.max_parallel < derived))
    return tuple(out)
