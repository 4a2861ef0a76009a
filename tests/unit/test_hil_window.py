"""Retransmission bookkeeping: which steps an answer shows lost, and the adaptive timeout."""
import pytest

from kei.hil.session.window import RetransmitTimer, SendWindow


def window_with(*steps, t=0.0):
    w = SendWindow()
    for s in steps:
        w.sent(s, t)
    return w


def test_in_order_answers_lose_nothing_and_give_round_trips():
    w = window_with(1, 2, 3)
    assert w.answered(1, True, 0.010) == ([], pytest.approx(0.010))
    assert w.answered(2, True, 0.012) == ([], pytest.approx(0.012))
    assert len(w) == 1


def test_an_answer_shows_the_earlier_unanswered_transmissions_lost():
    w = window_with(1, 2, 3, 4)
    assert w.answered(3, True, 0.01)[0] == [1, 2]   # answers come in order: 1 and 2 were lost
    assert w.answered(4, True, 0.01)[0] == []


def test_out_of_order_nack_resends_the_gap_and_the_nacked_step():
    w = window_with(5, 6, 7)
    assert w.answered(6, False, 0.01)[0] == [5, 6]  # 5 never arrived, so 6 was refused
    for s in (5, 6):
        w.sent(s, 0.02)
    assert w.answered(7, False, 0.03)[0] == [7]      # the old copies of 5, 6 are not resent again
    assert w.answered(5, True, 0.04) == ([], None)  # Karn: 5 was sent twice, no round-trip sample


def test_a_duplicate_answer_changes_nothing():
    w = window_with(1, 2)
    w.answered(1, True, 0.01)
    assert w.answered(1, True, 0.02) == ([], None)
    assert w.answered(2, True, 0.03)[0] == []


def test_a_step_answered_from_an_older_copy_is_not_resent():
    w = window_with(1)
    w.sent(1, 0.5)                      # resent after a timeout; the first copy's answer then arrives
    assert w.answered(1, True, 0.6) == ([], None)
    assert len(w) == 0


def test_timeout_follows_the_round_trip_within_its_bounds():
    rto = RetransmitTimer(0.005, 0.6)
    assert rto.timeout_s == 0.6                       # nothing measured: the protocol's default
    for _ in range(50):
        rto.sample(0.0002)
    assert rto.timeout_s == 0.005                     # a pty: the floor
    for _ in range(50):
        rto.sample(0.1)
    assert 0.1 <= rto.timeout_s <= 0.2                # a 115200 baud line with a window in flight
    rto.sample(10.0)
    assert rto.timeout_s == 0.6                       # never beyond the ceiling


def test_backoff_doubles_but_is_bounded():
    rto = RetransmitTimer(0.005, 0.6)
    rto.sample(0.001)
    first = rto.timeout_s
    rto.backoff()
    assert rto.timeout_s == 2 * first
    for _ in range(10):
        rto.backoff()
    assert rto.timeout_s == RetransmitTimer.MAX_BACKOFF * first


def test_copies_written_together_still_measure_the_round_trip():
    w = window_with(9, 9, t=1.0)        # a lone step sent twice on a lossy line
    assert w.answered(9, True, 1.004) == ([], pytest.approx(0.004))
    assert w.answered(9, True, 1.005) == ([], None)  # the cached answer to the second copy
    assert len(w) == 0
