"""Drive cycles: the bundled traces (with provenance), the official procedures and user CSV files.

A cycle is a speed trace sampled at arbitrary (increasing) times. A procedure name (`wltp`,
`wltc_jp`, `epa_combined`, ...) loads as a placeholder Cycle with `procedure` set and the
procedure's default trace; `simulate` resolves it for the car (class, test mass, speed cap:
kei/vehicle/procedures.py). Composite cycles (`epa_combined`) hold weighted parts and a range factor
instead of being one trace: their energy per distance is the weighted mean of the parts', as the US
label procedure prescribes.

A user CSV is checked for plausibility: speeds above 70 m/s, accelerations above 5 m/s^2 between
samples, grades above 35 % and a trace that goes nowhere are errors naming the row.
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
    "nedc_trace": ("nedc.csv", "NEDC trace (ECE-15 x4 + EUDC)", "UN ECE R101; via the wltp package (JRC)"),
}
# Japanese "WLTC mode": class 3 Low+Medium+High, without Extra-high (seconds 0-1477).
WLTC_JP_LAST_S = 1477.0
# The official procedures (rules in configs/procedures.toml, applied by kei/vehicle/procedures.py).
# Each loads with its default trace: the one most cars of this project drive.
DERIVED = {
    "epa_city": "US EPA city: UDDS at the EPA test weight, range x 0.7",
    "epa_highway": "US EPA highway: HWFET at the EPA test weight, range x 0.7",
    "epa_combined": "US EPA label: UDDS 55 % + HWFET 45 % on energy per distance, EPA test weight, range x 0.7",
    "wltp": "UN GTR 15 / EU WLTP: WLTC class by power-to-mass and v_max (default 3b), GTR 15 test mass, capped speed",
    "wltc_jp": "Japanese WLTC mode: class 3a/3b Low+Medium+High (default 3b, 0-1477 s), Japanese test mass, capped speed",
    "nedc": "UN R101 NEDC: reference mass in inertia classes, maximum 30-minute speed cap",
}
PROCEDURE_NAMES = tuple(DERIVED)
# Plausibility of a user's trace: beyond these it is a unit slip or a broken file, not a car.
MAX_SPEED_MPS = 70.0           # 252 km/h: km/h under a speed_mps header trips this first
MAX_ACCEL_MPS2 = 5.0           # ~0.5 g between samples: beyond what a road car does on a drive cycle
MAX_GRADE_PERCENT = 35.0       # steeper than any public road a drive cycle uses


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
    procedure: str = ""        # an official procedure's name: simulate resolves the trace per car

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


def load_trace(name: str) -> Cycle:
    """A bundled raw trace by name (no procedure)."""
    return _bundled(name)


@lru_cache(maxsize=None)
def _bundled(name: str) -> Cycle:
    file, description, source = BUNDLED[name]
    cycle = read_cycle_csv(cycles_dir() / file, name=name)
    return Cycle(name, cycle.time_s, cycle.speed_mps, cycle.grade_percent, source=source, description=description)


def load_cycle(name_or_path: str | Path) -> Cycle:
    """A bundled trace or procedure by name, or a user's CSV file by path."""
    key = str(name_or_path)
    if key in BUNDLED:
        return _bundled(key)
    if key in DERIVED:
        return _procedure(key)
    path = Path(key)
    if path.suffix.lower() == ".csv" or path.exists():
        return read_cycle_csv(path)
    raise CycleError(key, None, f"unknown cycle; use a CSV path or one of: {', '.join(cycle_names())}")


@lru_cache(maxsize=None)
def _procedure(key: str) -> Cycle:
    from kei.vehicle.procedures import rules  # the procedure rules live with the procedures

    description = DERIVED[key]
    if key == "wltc_jp":
        jp = _bundled("wltc_3b").slice_s(0.0, WLTC_JP_LAST_S, key)
        return Cycle(key, jp.time_s, jp.speed_mps, jp.grade_percent, procedure=key, description=description,
                     source=jp.source + "; Low+Medium+High per the Japanese WLTC mode")
    if key in ("wltp", "nedc"):
        base = _bundled("wltc_3b" if key == "wltp" else "nedc_trace")
        return Cycle(key, base.time_s, base.speed_mps, base.grade_percent, procedure=key, description=description,
                     source=base.source)
    epa = rules()["epa"]
    factor = float(epa["label_range_factor"])
    if key == "epa_combined":
        parts = tuple((_bundled(n), float(w)) for n, w in epa["combined_weights"])
        flat = concatenate([p for p, _ in parts], key)
        return Cycle(key, flat.time_s, flat.speed_mps, flat.grade_percent, procedure=key, description=description,
                     source="US EPA label procedure (40 CFR 600); " + flat.source, parts=parts, range_factor=factor)
    base = _bundled("udds" if key == "epa_city" else "hwfet")
    return Cycle(key, base.time_s, base.speed_mps, base.grade_percent, procedure=key, description=description,
                 source="US EPA label procedure (40 CFR 600); " + base.source, range_factor=factor)


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
    data, rows_of_data = [], []
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
        rows_of_data.append(i)
    if len(data) < 2:
        raise CycleError(str(path), None, "needs at least two samples")
    arr = np.array(data, dtype=float)
    _check_plausible(str(path), arr, rows_of_data, header[speed_col])
    return Cycle(name or path.stem, arr[:, 0], arr[:, 1], arr[:, 2], source=f"user file {path}",
                 description="user cycle")


def _check_plausible(file: str, arr: np.ndarray, rows: list[int], speed_header: str) -> None:
    """Speeds, accelerations and grades a road car can drive, and some distance: the first offending
    row is named (rows counted as a spreadsheet shows them, header = row 1)."""
    t, v, g = arr[:, 0], arr[:, 1], arr[:, 2]
    fast = np.flatnonzero(v > MAX_SPEED_MPS)
    if len(fast):
        i = int(fast[0])
        hint = " (km/h under a speed_mps header? use a speed_kmh column)" if speed_header == "speed_mps" else ""
        raise CycleError(file, rows[i], f"speed {v[i]:.1f} m/s ({v[i] * KMH_PER_MPS:.0f} km/h) is above "
                         f"{MAX_SPEED_MPS:.0f} m/s{hint}")
    accel = np.diff(v) / np.diff(t)
    hard = np.flatnonzero(np.abs(accel) > MAX_ACCEL_MPS2)
    if len(hard):
        i = int(hard[0]) + 1
        raise CycleError(file, rows[i], f"speed changes by {accel[i - 1]:+.1f} m/s^2 from the previous row; more than "
                         f"{MAX_ACCEL_MPS2:.0f} m/s^2 is no drive cycle (units or a missing row?)")
    steep = np.flatnonzero(np.abs(g) > MAX_GRADE_PERCENT)
    if len(steep):
        i = int(steep[0])
        raise CycleError(file, rows[i], f"grade {g[i]:+.1f} % is steeper than {MAX_GRADE_PERCENT:.0f} % "
                         "(grade_percent is in percent: 5 for 5 %)")
    if float(np.sum(0.5 * (v[1:] + v[:-1]) * np.diff(t))) <= 0.0:
        raise CycleError(file, None, "the trace covers no distance (every speed is zero)")
