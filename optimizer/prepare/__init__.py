"""Stage 2: preparation outside the MILP. Screening parts that can never fit, performance needs as mass limits, Wh/km fits, and the ModelData the builders read."""
