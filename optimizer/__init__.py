"""kei.optimizer: part catalogs + a problem -> MILP -> a design verified by simulation.

The folders are the pipeline's stages: `inputs/` (catalogs, problems, price models), `prepare/`
(screening, performance limits, Wh/km fits), `milp/` (one add_<group> builder per file),
`solving/` (HiGHS adapter, ratio loop, pipeline and verification), `answers/` (designs,
reports), `cli/` (the commands). It imports `kei` (the shared core) and never `kei.hil`.
"""

from kei.optimizer.answers.design import Design
from kei.optimizer.answers.solution import Solution
from kei.optimizer.inputs.catalog import load_catalog
from kei.optimizer.inputs.parts import Catalog
from kei.optimizer.inputs.problem import Problem, load_problem
from kei.optimizer.prepare.model_data import ModelData
from kei.optimizer.solving.pipeline import Extend, solve

__all__ = ["solve", "Solution", "Design", "Problem", "load_problem", "Catalog", "load_catalog", "ModelData", "Extend"]
