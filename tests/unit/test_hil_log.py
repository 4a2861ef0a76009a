"""The session log: exact round trip, torn last lines, gaps and repeats refused with the line named."""
import math

import pytest

from kei.hil.errors import LogError
from kei.hil.log.session_log import STEP_COLUMNS, LogWriter, format_row, read_log

HEADER = {"format": "kei-hil-log", "version": 1, "cycle": "udds"}


def make_log(tmp_path, rows=3):
    design = tmp_path / "d.toml"
    design.write_text("name = 'x'\n")
    log = LogWriter.create(tmp_path / "log", HEADER, design, "[session]\n")
    lines = []
    for step in range(rows):
        values = [step] + [0.1 * step + 1 / 3] * (len(STEP_COLUMNS) - 1)
        values[STEP_COLUMNS.index("contactor")] = 1
        values[STEP_COLUMNS.index("soc_true")] = math.nan  # real hardware: no true SOC
        lines.append(format_row(values))
    log.rows(lines)
    log.event("hello", step=0, kind="emulator")
    log.flush()
    return log, tmp_path / "log"


def test_round_trip_is_exact(tmp_path):
    log, d = make_log(tmp_path)
    log.close()
    back = read_log(d)
    assert back.rows == 3 and back.last_step == 2
    assert back.columns["distance_m"][2] == 0.2 + 1 / 3  # repr floats: bit-exact
    assert math.isnan(back.columns["soc_true"][1]) and back.events[0]["kind"] == "emulator"
    assert back.telemetry(-1).seq == 2 and back.telemetry(-1).contactor == 1
    assert (d / "design.toml").read_text() == "name = 'x'\n"


def test_a_torn_last_line_is_ignored_and_cut_on_reopening(tmp_path):
    log, d = make_log(tmp_path)
    log.close()
    with open(d / "steps.csv", "a") as fh:
        fh.write("3,0,0,0.5")  # the host was killed mid-write
    with open(d / "events.jsonl", "a") as fh:
        fh.write('{"t": 1, "ev')
    assert read_log(d).rows == 3
    LogWriter(d).open().close()
    assert (d / "steps.csv").read_text().endswith("\n") and read_log(d).rows == 3


def test_gaps_and_repeats_are_refused_naming_the_line(tmp_path):
    log, d = make_log(tmp_path)
    log.rows([format_row([5] + [1.0] * (len(STEP_COLUMNS) - 1))])
    log.close()
    with pytest.raises(LogError, match=r"steps.csv:5: step numbers are not consecutive"):
        read_log(d)


def test_bad_logs_are_named(tmp_path):
    with pytest.raises(LogError, match="not a session log"):
        read_log(tmp_path)
    log, d = make_log(tmp_path)
    log.close()
    with pytest.raises(LogError, match="already holds a session log"):
        LogWriter.create(d, HEADER, tmp_path / "d.toml", "")
    with open(d / "steps.csv", "a") as fh:
        fh.write("3,1,2\n" + format_row([3] + [1.0] * (len(STEP_COLUMNS) - 1)))
    with pytest.raises(LogError, match=r"steps.csv:5: 3 fields"):  # damage with rows after it: named, not cut
        read_log(d)
