"""kei optimizer: drive cycles, the vehicle energy model and the design MILP.

`hil/` may import from here; nothing here imports from `hil/`.
"""
