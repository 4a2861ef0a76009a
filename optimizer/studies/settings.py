"""The studies' numerical settings (`configs/studies/settings.toml`): declared once, with units."""
from __future__ import annotations

from dataclasses import dataclass

from kei.optimizer.studies.points import FLOOR_ENGINES
from kei.resources import config_file
from kei.schema import Field, read_toml, validate_table

FIELDS = (
    Field("floor_engine", str, "-", "how the floor price is found", choices=FLOOR_ENGINES),
    Field("confidence", float, "-", "two-sided level of the Monte Carlo interval", min=0.5, max=0.9999),
    Field("max_points_per_task", int, "-", "points per batch sent to a worker", min=1, max=10000),
    Field("pareto_initial_points", int, "-", "evenly spaced points before refinement", min=0, max=1000),
    Field("pareto_max_points", int, "-", "most points on a front", min=3, max=100000),
    Field("pareto_range_tolerance_km", float, "km", "refine while the midpoint is further from the chord", min=0.0),
    Field("pareto_price_tolerance_usd", float, "USD", "the same for a min-price front", min=0.0),
    Field("pareto_min_step_usd", float, "USD", "narrowest interval of caps split", min=0.01),
    Field("pareto_min_step_km", float, "km", "narrowest interval of ranges split", min=0.001),
    Field("breakeven_points_per_round", int, "-", "points per bracketing round", min=1, max=64),
    Field("breakeven_relative_tolerance", float, "-", "default bracket width / initial interval", min=1e-9, max=0.5),
    Field("uncapped_price_usd", float, "USD", "the cap that means no cap", min=1000.0),
)


@dataclass(frozen=True)
class StudySettings:
    floor_engine: str
    confidence: float
    max_points_per_task: int
    pareto_initial_points: int
    pareto_max_points: int
    pareto_range_tolerance_km: float
    pareto_price_tolerance_usd: float
    pareto_min_step_usd: float
    pareto_min_step_km: float
    breakeven_points_per_round: int
    breakeven_relative_tolerance: float
    uncapped_price_usd: float


def load_study_settings(path=None) -> StudySettings:
    path = path if path is not None else config_file("studies/settings.toml")
    return StudySettings(**validate_table(read_toml(path), FIELDS, file=path))
