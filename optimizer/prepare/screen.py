"""Parts that can never be in a design of this problem, removed before the MILP with the reason.

A body wider than the class allows or a motor above its power cap cannot be chosen whatever else is;
dropping them first keeps the MILP small and lets an impossible problem be explained in the terms of
the requirement (the narrowest body is 1.52 m against 1.48 m allowed) instead of a bare "infeasible".
"""
from __future__ import annotations

from dataclasses import dataclass

from kei.errors import InfeasibleError
from kei.optimizer.inputs.parts import BodySpec, MotorSpec
from kei.optimizer.inputs.regulations import Limits


@dataclass(frozen=True)
class Rejection:
    part: str          # part id, or "motor x body" for a pair
    requirement: str   # the limit's key, e.g. "max_width_m"
    value: float       # what the part has (or needs)
    limit: float       # what the problem allows (or offers)
    unit: str
    text: str          # one sentence for people

    def summary(self) -> str:
        return f"{self.part}: {self.text}"


def screen_bodies(bodies: tuple[BodySpec, ...], limits: Limits) -> tuple[list[BodySpec], list[Rejection]]:
    kept, out = [], []
    for b in bodies:
        reasons = []
        for key, attr in (("max_length_m", "length_m"), ("max_width_m", "width_m"), ("max_height_m", "height_m")):
            limit = getattr(limits, key)
            value = getattr(b, attr)
            if limit is not None and value > limit:
                reasons.append(Rejection(b.id, key, value, limit, "m",
                                         f"{attr.removesuffix('_m')} {value:.3f} m > {limit:.3f} m ({limits.profile})"))
        if limits.min_length_m is not None and b.length_m < limits.min_length_m:
            reasons.append(Rejection(b.id, "min_length_m", -b.length_m, -limits.min_length_m, "m",
                                     f"length {b.length_m:.3f} m < {limits.min_length_m:.3f} m (size class)"))
        if limits.us_crash_structure_required and not b.us_crash_compliant:
            reasons.append(Rejection(b.id, "us_crash_structure_required", 0.0, 1.0, "-",
                                     "not built for the US crash standards"))
        (out.extend(reasons) if reasons else kept.append(b))
    return kept, out


def screen_motors(motors: tuple[MotorSpec, ...], limits: Limits) -> tuple[list[MotorSpec], list[Rejection]]:
    kept, out = [], []
    for m in motors:
        reasons = []
        for key, attr in (("max_peak_power_kw", "peak_power_kw"), ("max_continuous_power_kw", "continuous_power_kw")):
            limit = getattr(limits, key)
            value = getattr(m, attr)
            if limit is not None and value > limit:
                reasons.append(Rejection(m.id, key, value, limit, "kW",
                                         f"{attr.replace('_kw', '').replace('_', ' ')} {value:g} kW > {limit:g} kW ({limits.profile})"))
        (out.extend(reasons) if reasons else kept.append(m))
    return kept, out


SINGULAR = {"bodies": "body", "motors": "motor", "cells": "cell"}


def explain_empty(kind: str, rejections: list[Rejection], total: int) -> InfeasibleError:
    """No part of `kind` survives: say which requirement removed them and how close the best came."""
    by_req: dict[str, list[Rejection]] = {}
    for r in rejections:
        by_req.setdefault(r.requirement, []).append(r)
    lines = []
    for req, rs in by_req.items():
        closest = min(rs, key=lambda r: r.value - r.limit)
        if req == "us_crash_structure_required":
            lines.append(f"{len(rs)} of {total} {kind} lack the US crash structure")
        elif req.startswith("min_"):
            lines.append(f"{len(rs)} of {total} {kind} are below {req} = {-closest.limit:g} {closest.unit} "
                         f"(closest: {closest.part} at {-closest.value:g} {closest.unit})")
        else:
            lines.append(f"{len(rs)} of {total} {kind} exceed {req} = {closest.limit:g} {closest.unit} "
                         f"(closest: {closest.part} at {closest.value:g} {closest.unit})")
    explanation = f"no {SINGULAR.get(kind, kind)} in the catalog meets the limits: " + "; ".join(lines)
    return InfeasibleError(explanation, {"stage": f"screen_{kind}", "rejections": [r.__dict__ for r in rejections]})
