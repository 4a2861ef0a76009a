"""kei.hil: stream a design's drive profile to a BMS over a serial line and measure its range.

The folders are the bench's layers: `wire/` (pure codec), `link/` (ports, faults, device
processes), `setup/` (bench and BMS configs, pack setup), `session/` (demand, window, pacing, the
session loop), `log/` (append-only log, result), `emulator/` (the Python BMS), `firmware/` (the C
stub's headers and builds), `cli/` (the commands). It imports `kei` (the shared core) and never
`kei.optimizer`: the two halves meet in the design file.

    outcome = kei.hil.run_session("us_kei_150km", "epa_combined", emulator="python")
    outcome.measured_range_km, outcome.to_dict()
"""
from kei.hil.log.session_log import read_log
from kei.hil.log.summary import summarize
from kei.hil.session.runner import Outcome, resume_session, run_session

__all__ = ["run_session", "resume_session", "Outcome", "read_log", "summarize"]
