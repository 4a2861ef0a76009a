"""kei HIL bench: stream a design's drive profile to a BMS over a serial line and measure its range.

May import from `optimizer/` (the energy model, vehicle files); never the other way round.
"""
