"""Stage 4: solving and verifying. The HiGHS adapter, Dinkelbach's ratio loop, the pipeline with its verification by simulation, the explanation of infeasible problems, and the brute-force oracle."""
