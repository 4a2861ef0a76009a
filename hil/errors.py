"""The bench's branch of kei's exception tree (`kei.errors`).

Low-level errors (pyserial, OSError, struct) are translated at the boundary into these, with the
port, frame or log file named (`raise LinkLost(...) from err`). Exit codes: a device, port or
firmware build that is not there or stops answering is 5; a log that cannot be read is 3.
"""
from __future__ import annotations

from kei.errors import EXIT_BAD_INPUT, EXIT_DEVICE, EXIT_TOLERANCE, EXIT_USAGE, KeiError


class BenchError(KeiError):
    """Base of every error the bench raises on purpose."""


class DeviceUnavailable(BenchError):
    """A device process could not be started, or a device cannot be reached at all."""

    exit_code = EXIT_DEVICE


class FrameError(BenchError):
    """A frame could not be decoded (COBS, CRC, length). `kind` is one of cobs, crc, short, oversize,
    and `frame` the offending bytes (truncated), so a log can show what arrived."""

    exit_code = EXIT_DEVICE

    def __init__(self, kind: str, message: str, frame: bytes = b""):
        self.kind = kind
        self.frame = bytes(frame[:64])
        super().__init__(f"bad frame ({kind}): {message}" + (f" [{self.frame.hex(' ')}]" if frame else ""))


class ProtocolError(BenchError):
    """A well-framed message that makes no sense: unknown type, wrong payload length, bad value,
    a version the host does not speak, or a NACK the session cannot recover from."""

    exit_code = EXIT_DEVICE


class LinkError(BenchError):
    """The serial link failed: the port cannot be opened, or it went away (a pulled cable)."""

    exit_code = EXIT_DEVICE


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

    exit_code = EXIT_DEVICE


class LogError(BenchError):
    """A session log is missing, unreadable or inconsistent (names the file and line)."""

    exit_code = EXIT_BAD_INPUT


class FaultSpecError(BenchError):
    """An `--inject` fault specification that cannot be parsed; names the bad part."""

    exit_code = EXIT_USAGE

    def __init__(self, part: str, message: str):
        self.part = part
        super().__init__(f"--inject: bad part {part!r}: {message}")


class SessionAborted(BenchError):
    """A session stopped by an error after it started: says what the log holds and how to resume,
    and keeps the exit code of the error that stopped it."""

    def __init__(self, cause: KeiError, message: str):
        self.cause = cause
        self.exit_code = cause.exit_code
        super().__init__(message)


class InstrumentError(LinkError):
    """The lab bench's source/load cannot be reached, stops answering, or refuses a command (names
    the VISA resource and what it answered); docs/lab.md."""


class BmsLinkError(LinkError):
    """The lab bench's production BMS stops answering or sends frames that do not decode (names the
    port and the frame)."""


class LimitBreach(BenchError):
    """A lab bench limit (configs/lab/lab.toml [limits]) was reached: `limit` names it."""

    exit_code = EXIT_TOLERANCE

    def __init__(self, limit: str, message: str):
        self.limit = limit
        super().__init__(message)
