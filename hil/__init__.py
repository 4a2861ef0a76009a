"""kei.hil: stream a design's drive profile to a BMS over a serial line and measure its range.

The folders are the bench's layers: `wire/` (pure codec), `link/` (ports, faults, device
processes), `setup/` (bench and BMS configs, pack setup), `session/` (demand, window, pacing, the
session loop), `log/` (append-only log, result), `emulator/` (the Python BMS), `firmware/` (the C
stub's headers and builds), `cli/` (the commands). It imports `kei` (the shared core) and never
`kei.optimizer`: the two halves meet in the design file.
"""
