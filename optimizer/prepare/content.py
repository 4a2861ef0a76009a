"""Content as numbers: the required lines a problem's regulatory profile and model year put in force,
and the content options the MILP chooses (one per group) with their cost, mass and energy effects.

Required lines that the glider does not already carry (`in_glider = false`) add a fixed cost and mass
to every design; the options add `cost_usd x chosen` and `mass_kg x chosen` (linear). An option that
changes drag, rolling resistance or auxiliary power changes the pair's energy per km by
delta_p(mass) = d0_p + d1_p x mass, fitted in the same vectorized energy-model call as the pair fits
(prepare/fit.py); the MILP adds it exactly with one epigraph variable per option (milp/content.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kei.errors import ConfigError
from kei.optimizer.inputs.content import Content, ContentOption, RequiredLine
from kei.optimizer.inputs.problem import Problem


@dataclass(frozen=True)
class ContentData:
    model_year: int
    climate: str
    lines: tuple[RequiredLine, ...]          # required and in force for the model year
    pending: tuple[RequiredLine, ...]        # required by the profile, in force only from a later model year
    options: tuple[ContentOption, ...]
    groups: tuple[str, ...]
    option_group: np.ndarray                 # (options,): index into groups
    option_cost_usd: np.ndarray
    option_mass_kg: np.ndarray
    option_aux_w: np.ndarray                 # under the problem's climate
    energy_options: tuple[int, ...]          # options with an energy effect (indices into options)

    @property
    def added_lines(self) -> tuple[RequiredLine, ...]:
        return tuple(r for r in self.lines if not r.in_glider)

    @property
    def required_cost_usd(self) -> float:
        return float(sum(r.cost_usd for r in self.added_lines))

    @property
    def required_mass_kg(self) -> float:
        return float(sum(r.mass_kg for r in self.added_lines))

    def group_members(self, g: int) -> np.ndarray:
        return np.flatnonzero(self.option_group == g)

    def effects(self, chosen: tuple[int, ...]) -> dict:
        """What the chosen options do to the car: drag-area and tyre scales, auxiliary power added."""
        cda = float(np.prod([self.options[i].drag_area_scale for i in chosen])) if chosen else 1.0
        crr = float(np.prod([self.options[i].crr_scale for i in chosen])) if chosen else 1.0
        aux = float(sum(self.option_aux_w[i] for i in chosen))
        return {"drag_area_scale": cda, "crr_scale": crr, "auxiliary_power_w": aux}


def prepare_content(content: Content, problem: Problem) -> ContentData:
    """The content in force for `problem`. An id its profile names that content.toml does not define
    is a ConfigError naming the problem file (or the regulations file) and the key."""
    year = problem.model_year if problem.model_year is not None else content.default_model_year
    known = {r.id: r for r in content.required}
    lines, pending = [], []
    for line_id in problem.limits.required_content:
        if line_id not in known:
            raise ConfigError(problem.file or "<problem>", "regulation.required_content",
                              f"profile {problem.limits.profile!r} requires content {line_id!r}, which "
                              f"{content.file or 'content.toml'} does not define; known: {', '.join(known) or 'none'}")
        (lines if known[line_id].from_model_year <= year else pending).append(known[line_id])
    groups = content.groups
    opts = content.options
    aux = np.array([o.aux_w(problem.climate) for o in opts], dtype=float)
    return ContentData(
        model_year=year, climate=problem.climate, lines=tuple(lines), pending=tuple(pending), options=opts,
        groups=groups, option_group=np.array([groups.index(o.group) for o in opts], dtype=int),
        option_cost_usd=np.array([o.cost_usd for o in opts], dtype=float),
        option_mass_kg=np.array([o.mass_kg for o in opts], dtype=float), option_aux_w=aux,
        energy_options=tuple(i for i, o in enumerate(opts) if o.affects_energy(problem.climate)))


def option_mass_range_kg(cd: ContentData) -> tuple[float, float]:
    """The lightest and heaviest the chosen options can make the car (one per group)."""
    lo = sum(float(cd.option_mass_kg[cd.group_members(g)].min()) for g in range(len(cd.groups)))
    hi = sum(float(cd.option_mass_kg[cd.group_members(g)].max()) for g in range(len(cd.groups)))
    return lo, hi


def option_cost_range_usd(cd: ContentData) -> tuple[float, float]:
    lo = sum(float(cd.option_cost_usd[cd.group_members(g)].min()) for g in range(len(cd.groups)))
    hi = sum(float(cd.option_cost_usd[cd.group_members(g)].max()) for g in range(len(cd.groups)))
    return lo, hi
