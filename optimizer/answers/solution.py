"""What `kei.solve` returns: the designs found, the data they were found on, and how it went."""
from __future__ import annotations

from dataclasses import dataclass, field

from kei.optimizer.answers.design import Design
from kei.optimizer.inputs.problem import Problem
from kei.optimizer.prepare.model_data import ModelData


@dataclass
class Solution:
    problem: Problem
    data: ModelData
    designs: list[Design]
    seconds: dict                       # prepare, build, solve, verify, total
    milps: int = 0                      # MILPs solved (all ratio iterations, all designs)
    corrections: int = 0                # designs simulated whose layout the model was corrected on
    certificate: dict | None = None     # the certificate loop: proven, simulations, rounds, margin (None: not verified)
    gap: float | None = None            # certified relative optimality gap of the best design
    notes: list[str] = field(default_factory=list)
    user_constraints: list[str] = field(default_factory=list)  # components the extend= hook added

    @property
    def best(self) -> Design:
        return self.designs[0]

    def to_dict(self, design_file: str | None = None) -> dict:
        """The solution as `kei solve --json` prints it (strict JSON: no NaN or infinity)."""
        from kei.optimizer.answers.report import solution_json

        return solution_json(self, design_file)
