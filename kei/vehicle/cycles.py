"""Drive cycles: the bundled library (with provenance), derived cycles and user CSV files.

A cycle is a speed trace sampled at arbitrary (increasing) times. Composite cycles (`epa_combined`)
hold weighted parts and a range factor instead of being one trace: their energy per distance is the
weighted mean of the parts', as the US label procedure prescribes.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from kei.errors import CycleError
from kei.resources import cycles_dir
from kei.textfile import read_text
from kei.units import KMH_PER_MPS

# name -> (file, description, source). Provenance as given in data/cycles/README.md.
BUNDLED = {
    "udds": ("udds.csv", "EPA Urban Dynamometer Driving Schedule (FTP-72)",
             "US EPA, 40 CFR 86 App. I (public domain); file as shipped by NREL FASTSim 2"),
    "hwfet": ("hwfet.csv", "EPA Highway Fuel Economy Test", "US EPA (public domain); via NREL FASTSim 2"),
    "us06": ("us06.csv", "EPA US06 supplemental FTP", "US EPA (public domain); via NREL FASTSim 2"),
    "wltc_1": ("wltc_1.csv", "WLTC class 1", "UN GTR No. 15; via the wltp package (JRC)"),
    "wltc_2": ("wltc_2.csv", "WLTC class 2", "UN GTR No. 15; via the wltp package (JRC)"),
    "wltc_3a": ("wltc_3a.csv", "WLTC class 3a (v_max < 120 km/h)", "UN GTR No. 15; via NREL FASTSim 2"),
    "wltc_3b": ("wltc_3b.csv", "WLTC class 3b (v_max >= 120 km/h)", "UN GTR No. 15; via NREL FASTSim 2"),
    "nedc": ("nedc.csv", "NEDC (ECE-15 x4 + EUDC)", "UN ECE R101; via the wltp package (JRC)"),
}
# Japanese "WLTC mode": class 3 Low+Medium+High, without Extra-high (seconds 0-1477).
WLTC_JP_LAST_S = 1477.0
# US label: UDDS and HWFET combined 55/45 on energy per distance, range x 0.7 ("derived 5-cycle").
EPA_COMBINED_WEIGHTS = (("udds", 0.55), ("hwfet", 0.45))
EPA_COMBINED_RANGE_FACTOR = 0.7
DERIVED = {
    "wltc_jp": "Japanese WLTC mode: wltc_3b seconds 0-1477 (Low+Medium+High, no Extra-high)",
    "epa_combined": "US EPA label: UDDS 55 % + HWFET 45 % on energy per distance, range x 0.7",
}


@dataclass(frozen=True, eq=False)
class Cycle:
    """A speed trace. `time_s` strictly increasing, `speed_mps` >= 0, `grade_percent` road grade."""

    name: str
    time_s: np.ndarray
    speed_mps: np.ndarray
    grade_percent: np.ndarray
    source: str = ""
    description: str = ""
    parts: tuple[tuple["Cycle", float], ...] = field(default=())
    range_factor: float = 1.0

    @property
    def is_composite(self) -> bool:
        return bool(self.parts)

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1] - self.time_s[0])

    @property
    def distance_m(self) -> float:
        # Trapezoid: exact for piecewise-linear speed, equal to the 1 Hz sum for traces that start
        # and end at rest (the published distances are that sum).
        return float(np.sum(0.5 * (self.speed_mps[1:] + self.speed_mps[:-1]) * np.diff(self.time_s)))

    @property
    def distance_km(self) -> float:
        return self.distance_m / 1000.0

    @property
    def max_speed_kmh(self) -> float:
        return float(self.speed_mps.max() * KMH_PER_MPS)

    @property
    def mean_speed_kmh(self) -> float:
        """Mean speed including stops (distance / duration)."""
        return self.distance_m / self.duration_s * KMH_PER_MPS

    def summary(self) -> dict:
        return {
            "name": self.name,
            "duration_s": round(self.duration_s, 1),
            "distance_km": round(self.distance_km, 3),
            "max_speed_kmh": round(self.max_speed_kmh, 1),
            "mean_speed_kmh": round(self.mean_speed_kmh, 1),
            "description": self.description,
            "source": self.source,
        }

    def slice_s(self, start_s: float, end_s: float, name: str) -> "Cycle":
        keep = (self.time_s >= start_s) & (self.time_s <= end_s)
        return Cycle(name, self.time_s[keep] - start_s, self.speed_mps[keep], self.grade_percent[keep],
                     source=self.source, description=self.description)


def concatenate(parts: list[Cycle], name: str) -> Cycle:
    """One trace that drives `parts` back to back (each starts where the previous ended)."""
    times, speeds, grades, offset = [], [], [], 0.0
    for i, part in enumerate(parts):
        t = part.time_s - part.time_s[0] + offset
        sl = slice(1, None) if i else slice(None)  # the joint sample is shared (both at rest)
        times.append(t[sl]); speeds.append(part.speed_mps[sl]); grades.append(part.grade_percent[sl])
        offset = t[-1]
    return Cycle(name, np.concatenate(times), np.concatenate(speeds), np.concatenate(grades),
                 source="; ".join(p.source for p in parts), description=" + ".join(p.name for p in parts))


def flatten(cycle: Cycle) -> Cycle:
    """The trace a car actually drives: a plain cycle itself, or a composite's parts back to back."""
    return concatenate([p for p, _ in cycle.parts], cycle.name) if cycle.parts else cycle


def cycle_names() -> list[str]:
    return list(BUNDLED) + list(DERIVED)


@lru_cache(maxsize=None)
def _bundled(name: str) -> Cycle:
    file, description, source = BUNDLED[name]
    cycle = read_cycle_csv(cycles_dir() / file, name=name)
    return Cycle(name, cycle.time_s, cycle.speed_mps, cycle.grade_percent, source=source, description=description)


def load_cycle(name_or_path: str | Path) -> Cycle:
    """A bundled cycle by name, or a user's CSV file by path."""
    key = str(name_or_path)
    if key in BUNDLED:
        return _bundled(key)
    if key == "wltc_jp":
        base = _bundled("wltc_3b")
        jp = base.slice_s(0.0, WLTC_JP_LAST_S, "wltc_jp")
        return Cycle("wltc_jp", jp.time_s, jp.speed_mps, jp.grade_percent,
                     source=base.source + "; truncated per the Japanese WLTC mode", description=DERIVED["wltc_jp"])
    if key == "epa_combined":
        parts = tuple((_bundled(n), w) for n, w in EPA_COMBINED_WEIGHTS)
        flat = concatenate([p for p, _ in parts], "epa_combined")
        return Cycle("epa_combined", flat.time_s, flat.speed_mps, flat.grade_percent,
                     source="US EPA label procedure (40 CFR 600); " + flat.source,
                     description=DERIVED["epa_combined"], parts=parts, range_factor=EPA_COMBINED_RANGE_FACTOR)
    path = Path(key)
    if path.suffix.lower() == ".csv" or path.exists():
        return read_cycle_csv(path)
    raise CycleError(key, None, f"unknown cycle; use a CSV path or one of: {', '.join(cycle_names())}")


def read_cycle_csv(path: str | Path, name: str | None = None) -> Cycle:
    """Read `time_s` plus `speed_mps` or `speed_kmh` (optional `grade_percent`); rows are 1-based
    counting the header as row 1, as a spreadsheet shows them."""
    path = Path(path)
    rows = list(csv.reader(io.StringIO(read_text(path, error=CycleError, what="cycle CSV file"), newline="")))
    if not rows:
        raise CycleError(str(path), None, "empty file")
    header = [h.strip() for h in rows[0]]
    if "time_s" not in header:
        raise CycleError(str(path), 1, f"missing column 'time_s' (columns: {', '.join(header)})")
    if "speed_mps" in header:
        speed_col, scale = header.index("speed_mps"), 1.0
    elif "speed_kmh" in header:
        speed_col, scale = header.index("speed_kmh"), 1.0 / KMH_PER_MPS
    else:
        raise CycleError(str(path), 1, "missing column 'speed_mps' or 'speed_kmh'")
    time_col = header.index("time_s")
    grade_col = header.index("grade_percent") if "grade_percent" in header else None
    data = []
    for i, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            t = float(row[time_col])
            v = float(row[speed_col]) * scale
            g = float(row[grade_col]) if grade_col is not None else 0.0
        except (ValueError, IndexError):
            raise CycleError(str(path), i, f"not a number or missing field: {','.join(row)!r}") from None
        if not all(math.isfinite(x) for x in (t, v, g)):
            raise CycleError(str(path), i, "NaN or infinite value")
        if v < 0:
            raise CycleError(str(path), i, f"negative speed {row[speed_col]}")
        if data and t <= data[-1][0]:
            raise CycleError(str(path), i, f"time_s {t} does not increase (previous {data[-1][0]})")
        data.append((t, v, g))
    if len(data) < 2:
        raise CycleError(str(path), None, "needs at least two samples")
    arr = np.array(data, dtype=float)
    return Cycle(name or path.stem, arr[:, 0], arr[:, 1], arr[:, 2], source=f"user file {path}",
                 description="user cycle")
