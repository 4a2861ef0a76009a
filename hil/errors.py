"""The one exception tree of the bench package.

Low-level errors (pyserial, OSError, struct) are translated at the boundary into these, with the
port, frame or log file named (`raise LinkLost(...) from err`). All derive from `optimizer.errors.KeiError`
so the `kei` command reports them the same way as the optimizer's errors.
"""
from __future__ import annotations

from optimizer.errors import KeiError


class BenchError(KeiError):
    """Base of every error the bench raises on purpose."""


class FrameError(BenchError):
    """A frame could not be decoded (COBS, CRC, length). `kind` is one of cobs, crc, short, oversize,
    and `frame` the offending bytes (truncated), so a log can show what arrived."""

    def __init__(self, kind: str, message: str, frame: bytes = b""):
        self.kind = kind
        self.frame = bytes(frame[:64])
        super().__init__(f"bad frame ({kind}): {message}" + (f" [{self.frame.hex(' ')}]" if frame else ""))


class ProtocolError(BenchError):
    """A well-framed message that makes no sense: unknown type, wrong payload length, bad value,
    a version the host does not speak, or a NACK the session cannot recover from."""


class LinkError(BenchError):
    """The serial link failed: the port cannot be opened, or it went away (a pulled cable)."""


class LinkLost(LinkError):
    """The port went away while in use (a pulled cable, the far end of a pty closed, a TCP reset).
    The session may reopen it and carry on; `port` names it."""

    def __init__(self, port: str, message: str):
        self.port = port
        super().__init__(f"{port}: link lost: {message}")


class LinkTimeout(LinkError):
    """The device did not answer in time, after all retries."""


class DeviceFault(BenchError):
    """The device reported a condition the session cannot continue through (not a BMS cutoff,
    which is a normal end of a run)."""


class LogError(BenchError):
    """A session log is missing, unreadable or inconsistent (names the file and line)."""


class FaultSpecError(BenchError):
    """An `--inject` fault specification that cannot be parsed; names the bad part."""

    def __init__(self, part: str, message: str):
        self.part = part
        super().__init__(f"--inject: bad part {part!r}: {message}")
