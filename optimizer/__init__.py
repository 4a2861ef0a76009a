"""kei.optimizer: part catalogs + a problem -> MILP -> a design verified by simulation.

The folders are the pipeline's stages: `inputs/` (catalogs, problems, price models), `prepare/`
(screening, performance limits, Wh/km fits), `milp/` (one add_<group> builder per file),
`solving/` (HiGHS adapter, ratio loop, pipeline and verification), `answers/` (designs,
reports), `cli/` (the commands). It imports `kei` (the shared core) and never `kei.hil`.
"""
