"""--pace: absolute deadlines (no drift), parsing."""
import math

import pytest

from kei.errors import UsageError
from kei.hil.session.pacing import Pacer, pace_name, parse_pace


def test_parse_and_name():
    assert math.isinf(parse_pace("max")) and parse_pace("realtime") == 1.0 and parse_pace("x2.5") == 2.5
    assert [pace_name(parse_pace(t)) for t in ("max", "realtime", "x10")] == ["max", "realtime", "x10"]
    for bad in ("fast", "x0", "x-1", "xabc", "", "xnan"):
        with pytest.raises(UsageError, match="--pace"):
            parse_pace(bad)


def test_deadlines_are_absolute_so_late_steps_do_not_shift_the_rest():
    clock = [100.0]
    pacer = Pacer(10.0, clock=lambda: clock[0])
    pacer.rebase(0.0)
    assert pacer.deadline(0.0) == 100.0 and pacer.deadline(25.0) == 102.5
    clock[0] = 105.0  # the host fell behind by seconds (a pause on the link) ...
    assert pacer.deadline(30.0) == 103.0  # ... the schedule does not move: it catches up
    pacer.rebase(30.0)  # after a reconnect or a resume the schedule restarts from now
    assert pacer.deadline(30.0) == 105.0 and pacer.deadline(40.0) == 106.0


def test_max_pace_never_waits():
    pacer = Pacer(math.inf)
    pacer.rebase(0.0)
    assert pacer.unpaced and pacer.deadline(1e9) == -math.inf
