"""--baud-pace: one direction of a UART at BAUD 8N1 as the device process schedules it (PacedLine)."""
import pytest

from kei.hil.emulator.main import PacedLine
from kei.hil.wire.framing import encode_frame

BAUD = 10_000  # 1 ms per byte (10 bits), so the times below read in byte times


def test_a_byte_finishes_one_byte_time_after_the_previous_one():
    line = PacedLine(BAUD)
    line.put(b"abcd", 5.0)
    assert [line.finished(t) for t in (5.0, 5.0009, 5.001, 5.0025, 5.004, 9.0)] == [0, 0, 1, 2, 4, 4]
    line.put(b"ef", 5.002)  # handed over while the line is busy: queued behind "abcd"
    assert line.finished(5.004) == 4 and line.finished(5.0059) == 5 and line.finished(5.006) == 6
    assert line.take(3) == b"abc" and line.finished(5.006) == 3


def test_no_credit_for_idle_time():
    line = PacedLine(BAUD)
    line.put(b"a", 1.0)
    assert line.take(line.finished(1.001)) == b"a"
    line.put(b"bc", 3.0)  # the line was idle for 2 s: the next bytes still take their full time
    assert [line.finished(t) for t in (3.0, 3.001, 3.0019, 3.002)] == [0, 1, 1, 2]


def test_a_late_wake_up_catches_up_instead_of_slowing_the_line():
    line = PacedLine(BAUD)
    line.put(bytes(10), 0.0)
    assert line.take(line.finished(0.0075)) == bytes(7)  # woke 0.5 ms late: 7 done, not 6
    line.put(b"x", 0.0076)  # queued behind the 3 still crossing: done at 11 ms, not 7.6 + 1
    assert line.finished(0.0109) == 3 and line.finished(0.011) == 4


def test_the_wait_ends_when_the_next_frame_has_finished():
    line = PacedLine(BAUD)
    first, second = encode_frame(b"\x01\x00\x00"), encode_frame(b"\x02\x00\x00")
    line.put(first + second, 0.0)
    assert line.wait_s(0.0) == pytest.approx(len(first) * 1e-3)
    line.take(len(first))
    assert line.wait_s(0.001) == pytest.approx((len(first) + len(second)) * 1e-3 - 0.001)
    line.take(len(second))
    line.put(b"\x05\x06", 1.0)  # no delimiter (garbage): wait for the last byte
    assert line.wait_s(1.0) == pytest.approx(2e-3)
