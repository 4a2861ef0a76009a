"""Which steps in flight were lost: the bookkeeping behind the session's retransmissions.

The device answers every frame it can trust, in the order the frames arrived (protocol.md
section 3), and the line does not reorder bytes. So when the answer to one transmission arrives,
every earlier transmission still unanswered was lost (the frame, or its answer) and can be resent
at once, one round trip after the loss instead of a timeout later (TCP's fast retransmit, exact
here because nothing is reordered). A NACK OUT_OF_ORDER answering a step's latest transmission
means that step was not applied either: it is resent too. Resending is always safe: a step the
device already applied comes back as its cached TELEMETRY and is not applied twice.

`RetransmitTimer` is the timeout for the rest (a lost frame with nothing sent after it, a pause):
RFC 6298's estimator on the round trips of first transmissions (Karn: never a retransmitted one),
bounded by a floor and by protocol.md's default (0.5 s plus the window's line time), doubled after
each timeout. On a pty the round trip is well under a millisecond, so a lost frame costs the floor,
not half a second; a spurious timeout only costs a resend the device answers from its cache.

Pure: step numbers and times in, step numbers and times out.
"""
from __future__ import annotations

from collections import deque


class SendWindow:
    def __init__(self) -> None:
        # (step, transmission id, time written, first sending of the step?), in the order written
        self._fifo: deque[tuple[int, int, float, bool]] = deque()
        self._latest: dict[int, int] = {}        # step -> its latest transmission id, until answered
        self._first_sent: dict[int, float] = {}  # step -> when it was first written, until answered
        self._resent: set[int] = set()           # steps written again after their first sending
        self._tx = 0

    def __len__(self) -> int:
        return len(self._latest)

    def sent(self, step: int, now: float) -> None:
        """A copy of `step` was written at `now` (copies written together count as one sending)."""
        self._tx += 1
        first = self._first_sent.setdefault(step, now) == now
        if not first:
            self._resent.add(step)
        self._fifo.append((step, self._tx, now, first))
        self._latest[step] = self._tx

    def answered(self, step: int, applied: bool, now: float) -> tuple[list[int], float | None]:
        """An answer for `step` arrived: TELEMETRY (`applied`) or NACK OUT_OF_ORDER (not applied).
        Returns the steps to resend now (in order) and a round-trip sample (s), unless the step was
        ever resent (Karn: which copy was answered?). An answer to no transmission in flight (a
        duplicate) changes nothing."""
        fifo = self._fifo
        if fifo and fifo[0][0] == step:   # the usual case: the oldest transmission's answer
            idx = 0
        else:
            idx = next((i for i, entry in enumerate(fifo) if entry[0] == step), None)
            if idx is None:
                return [], None
        latest = self._latest
        resend = []
        for _ in range(idx):
            g, tx, _, _ = fifo.popleft()
            if latest.get(g) == tx:
                resend.append(g)
        g, tx, sent_at, first = fifo.popleft()
        rtt = now - sent_at if first and g in latest and g not in self._resent else None
        if applied:
            latest.pop(g, None)
            self._first_sent.pop(g, None)
            self._resent.discard(g)
        elif latest.get(g) == tx:
            resend.append(g)
        return resend, rtt


class RetransmitTimer:
    """RFC 6298 retransmission timeout, bounded to [floor_s, ceiling_s]. Backing off doubles it, but
    to at most MAX_BACKOFF x the estimate: losses on a serial line are noise, not congestion, and
    Karn's rule keeps a backed-off timeout until a first transmission gets through, which on a
    lossy line in stop-and-wait can take many steps."""

    MAX_BACKOFF = 4.0

    def __init__(self, floor_s: float, ceiling_s: float):
        self.floor_s = floor_s
        self.ceiling_s = max(floor_s, ceiling_s)
        self.srtt_s: float | None = None
        self.rttvar_s = 0.0
        self._estimate_s = self.ceiling_s  # no sample yet: the protocol's default
        self.timeout_s = self.ceiling_s

    def sample(self, rtt_s: float) -> None:
        if self.srtt_s is None:
            self.srtt_s, self.rttvar_s = rtt_s, rtt_s / 2.0
        else:
            self.rttvar_s = 0.75 * self.rttvar_s + 0.25 * abs(self.srtt_s - rtt_s)
            self.srtt_s = 0.875 * self.srtt_s + 0.125 * rtt_s
        self._estimate_s = min(self.ceiling_s, max(self.floor_s, self.srtt_s + 4.0 * self.rttvar_s))
        self.timeout_s = self._estimate_s

    def backoff(self) -> None:
        self.timeout_s = min(self.ceiling_s, 2.0 * self.timeout_s, self.MAX_BACKOFF * self._estimate_s)
