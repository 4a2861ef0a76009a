"""Fault injection on the link (`--inject SPEC`): a transport that wraps any other and damages the
byte stream the way a bad cable, a noisy UART or a flaky USB adapter does.

SPEC is a comma-separated list of parts (example: `ber=1e-4,drop=1e-3,garbage=0.002:32,pause=3@1500,disconnect@4000`):

| part | meaning |
|---|---|
| `ber=P` | every bit, both directions, flips with probability P |
| `drop=P` | every byte, both directions, is lost with probability P |
| `garbage=P:N` | before every byte, both directions, with probability P, a burst of 1..N random bytes |
| `pause=S@K` | after the host's K-th frame, the line goes silent for S seconds: bytes both ways are lost |
| `disconnect@K`, `disconnect=S@K` | after the host's K-th frame, the port is closed (reads and writes raise LinkLost) and cannot be reopened for S seconds (default 1) |
| `seed=N` | seed of the random faults (default 1): the same SPEC on the same byte stream damages the same bytes |

Frames are counted as the host writes them (frame delimiters, retransmissions included). `pause`
and `disconnect` may appear several times. Random faults run on separate streams per direction,
positioned by byte count, so they do not depend on how reads and writes happen to be chunked.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

from kei.hil.errors import FaultSpecError, LinkError, LinkLost
from kei.hil.link.transport import Transport

DEFAULT_SEED = 1
DEFAULT_DISCONNECT_S = 1.0


@dataclass(frozen=True)
class FaultSpec:
    ber: float = 0.0
    drop: float = 0.0
    garbage_rate: float = 0.0
    garbage_max_bytes: int = 0
    pauses: tuple[tuple[float, int], ...] = ()        # (seconds, after frame K)
    disconnects: tuple[tuple[float, int], ...] = ()   # (seconds unplugged, after frame K)
    seed: int = DEFAULT_SEED
    text: str = ""

    @property
    def active(self) -> bool:
        return bool(self.ber or self.drop or self.garbage_rate or self.pauses or self.disconnects)


def _probability(part: str, text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise FaultSpecError(part, f"{text!r} is not a number") from None
    if not 0.0 <= p < 1.0:
        raise FaultSpecError(part, f"probability must be in [0, 1), got {p}")
    return p


def _at_frame(part: str, value: str) -> tuple[str, int]:
    """Split `X@K` into X and the frame number K (>= 1)."""
    head, sep, tail = value.rpartition("@")
    if not sep:
        raise FaultSpecError(part, "needs '@FRAME' (after which host frame it happens)")
    try:
        frame = int(tail)
    except ValueError:
        raise FaultSpecError(part, f"frame number {tail!r} is not an integer") from None
    if frame < 1:
        raise FaultSpecError(part, f"frame number must be >= 1, got {frame}")
    return head, frame


def _seconds(part: str, text: str) -> float:
    try:
        s = float(text)
    except ValueError:
        raise FaultSpecError(part, f"duration {text!r} is not a number of seconds") from None
    if not 0.0 < s <= 3600.0:
        raise FaultSpecError(part, f"duration must be in (0, 3600] s, got {s}")
    return s


def parse_fault_spec(text: str) -> FaultSpec:
    """Parse an `--inject` SPEC; FaultSpecError names the part that is wrong."""
    values: dict = {"pauses": [], "disconnects": []}
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        if part.startswith("disconnect@"):
            key, value = "disconnect", part[len("disconnect"):]
        else:
            key, sep, value = part.partition("=")
            if not sep:
                raise FaultSpecError(part, "expected KEY=VALUE (keys: ber, drop, garbage, pause, disconnect, seed)")
            key, value = key.strip(), value.strip()
        if key in ("ber", "drop"):
            values[key] = _probability(part, value)
        elif key == "garbage":
            rate, sep, size = value.partition(":")
            if not sep:
                raise FaultSpecError(part, "expected garbage=P:N (probability per byte : longest burst in bytes)")
            values["garbage_rate"] = _probability(part, rate)
            try:
                values["garbage_max_bytes"] = int(size)
            except ValueError:
                raise FaultSpecError(part, f"burst length {size!r} is not an integer") from None
            if not 1 <= values["garbage_max_bytes"] <= 4096:
                raise FaultSpecError(part, "burst length must be in 1..4096 bytes")
        elif key == "pause":
            seconds, frame = _at_frame(part, value)
            values["pauses"].append((_seconds(part, seconds), frame))
        elif key == "disconnect":
            seconds, frame = _at_frame(part, value)
            values["disconnects"].append((_seconds(part, seconds) if seconds else DEFAULT_DISCONNECT_S, frame))
        elif key == "seed":
            try:
                values["seed"] = int(value)
            except ValueError:
                raise FaultSpecError(part, f"seed {value!r} is not an integer") from None
        else:
            raise FaultSpecError(part, f"unknown fault {key!r} (known: ber, drop, garbage, pause, disconnect, seed)")
    values["pauses"] = tuple(sorted(values["pauses"], key=lambda x: x[1]))
    values["disconnects"] = tuple(sorted(values["disconnects"], key=lambda x: x[1]))
    return FaultSpec(text=text, **values)


@dataclass
class _Stream:
    """Random faults of one direction: countdowns (in bits / bytes) to the next event."""

    rng: random.Random
    next_flip_bit: int = 0
    next_drop: int = 0
    next_garbage: int = 0


@dataclass
class FaultStats:
    bits_flipped: int = 0
    bytes_dropped: int = 0
    garbage_bursts: int = 0
    garbage_bytes: int = 0
    pauses: int = 0
    disconnects: int = 0
    pending_events: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "pending_events"}


def _gap(rng: random.Random, p: float) -> int:
    """Trials before the next event of probability p (geometric), or a huge number for p = 0."""
    if p <= 0.0:
        return 1 << 62
    return int(math.log(1.0 - rng.random()) / math.log1p(-p))


class FaultyTransport(Transport):
    """`inner` with the faults of `spec`. Interchangeable with any Transport."""

    def __init__(self, inner: Transport, spec: FaultSpec):
        super().__init__(inner.name)
        self.inner = inner
        self.spec = spec
        self.stats = FaultStats()
        self._tx = self._stream(1)
        self._rx = self._stream(2)
        self._frames_written = 0
        self._events = sorted([("pause", s, k) for s, k in spec.pauses] +
                              [("disconnect", s, k) for s, k in spec.disconnects], key=lambda e: e[2])
        self._pause_until = 0.0
        self._unplugged_until: float | None = None

    def _stream(self, direction: int) -> _Stream:
        rng = random.Random(self.spec.seed * 2 + direction)
        st = _Stream(rng)
        st.next_flip_bit = _gap(rng, self.spec.ber)
        st.next_drop = _gap(rng, self.spec.drop)
        st.next_garbage = _gap(rng, self.spec.garbage_rate)
        return st

    # -- damage ---------------------------------------------------------------------------------
    def _damage(self, data: bytes, st: _Stream) -> bytes:
        n = len(data)
        spec, stats = self.spec, self.stats
        buf = None
        while st.next_flip_bit < 8 * n:
            buf = buf if buf is not None else bytearray(data)
            i = st.next_flip_bit
            buf[i >> 3] ^= 1 << (i & 7)
            stats.bits_flipped += 1
            st.next_flip_bit += 1 + _gap(st.rng, spec.ber)
        st.next_flip_bit -= 8 * n
        if buf is not None:
            data = bytes(buf)
        drops: list[int] = []
        while st.next_drop < n:
            drops.append(st.next_drop)
            st.next_drop += 1 + _gap(st.rng, spec.drop)
        st.next_drop -= n
        inserts: list[tuple[int, bytes]] = []
        while st.next_garbage < n:
            size = st.rng.randint(1, spec.garbage_max_bytes)
            inserts.append((st.next_garbage, st.rng.randbytes(size)))
            st.next_garbage += 1 + _gap(st.rng, spec.garbage_rate)
        st.next_garbage -= n
        if not drops and not inserts:
            return data
        stats.bytes_dropped += len(drops)
        stats.garbage_bursts += len(inserts)
        stats.garbage_bytes += sum(len(g) for _, g in inserts)
        dropped = set(drops)
        garbage = dict(inserts)
        out = bytearray()
        last = 0
        for i in sorted(dropped | garbage.keys()):  # garbage goes before byte i; a dropped byte i is skipped
            out += data[last:i]
            out += garbage.get(i, b"")
            last = i + 1 if i in dropped else i
        out += data[last:]
        return bytes(out)

    # -- scheduled events ---------------------------------------------------------------------
    def _fire_events(self) -> None:
        while self._events and self._events[0][2] <= self._frames_written:
            kind, seconds, frame = self._events.pop(0)
            self.stats.pending_events.append(f"{kind} {seconds:g} s after host frame {frame}")
            if kind == "pause":
                self.stats.pauses += 1
                self._pause_until = time.monotonic() + seconds
            else:
                self.stats.disconnects += 1
                self._unplugged_until = time.monotonic() + seconds
                try:
                    self.inner.close()
                except LinkError:
                    pass

    def take_events(self) -> list[str]:
        """Scheduled faults that fired since the last call (for the session log)."""
        events, self.stats.pending_events = self.stats.pending_events, []
        return events

    def _check_plugged(self) -> None:
        if self._unplugged_until is not None:
            raise LinkLost(self.name, "disconnected by fault injection")

    # -- Transport ------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._unplugged_until is None and self.inner.is_open

    def _open(self) -> None:
        if self._unplugged_until is not None:
            if time.monotonic() < self._unplugged_until:
                raise LinkError(f"{self.name}: cannot open: still unplugged (fault injection)")
            self._unplugged_until = None
        self.inner.reopen()

    def _close(self) -> None:
        self.inner.close()

    def open(self) -> "FaultyTransport":
        if not self.inner.is_open:
            self._open()
        return self

    def reopen(self) -> None:
        self._open()

    def _write(self, data: bytes) -> None:
        self._check_plugged()
        self._frames_written += data.count(0)
        if self._events:
            self._fire_events()
            self._check_plugged()
        if time.monotonic() < self._pause_until:
            return  # into the void
        self.inner.write(self._damage(data, self._tx))

    def _read_available(self, max_bytes: int, timeout_s: float) -> bytes:
        self._check_plugged()
        now = time.monotonic()
        if now < self._pause_until:
            deadline = min(self._pause_until, now + timeout_s)
            while time.monotonic() < deadline:  # what arrives during the pause is lost
                self.inner.read(deadline - time.monotonic(), max_bytes)
            return b""
        data = self.inner.read(timeout_s, max_bytes)
        return self._damage(data, self._rx) if data else data
