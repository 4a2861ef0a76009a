"""The byte link between the host and a device: any pyserial port or URL, behind a small transport base.

`Transport` is the python-can style base: a backend implements `_open`, `_close`, `_write` and
`_read_available`; the base owns timeouts and translates low-level errors into `hil.errors`, so
the session sees the same interface for a USB adapter, a pseudo-terminal, a TCP bridge or the
fault-injection layer (`hil.faults.FaultyTransport`), which wraps any transport.

Reads are "whatever has arrived, waiting at most `timeout_s` for the first byte": the session feeds
the bytes to the frame decoder, which finds the frame boundaries. pyserial's `inter_byte_timeout`
does not end a read early on POSIX (pyserial #88), so the port is opened non-blocking
(`timeout=0`) and the waiting is done here, with `select` on the port's descriptor where it has one
(native ports, ptys, `socket://`) and short polls otherwise (`rfc2217://`, `loop://`).

A port that vanishes in use (the far end of a pty closed, a USB adapter pulled: pyserial raises
SerialException, the OS EIO) raises `LinkLost`; the session may `reopen()` and carry on.

Each URL handler gets only the options it supports (`_OPTIONS`): pyserial's RFC 2217 client raises
NotImplementedError on its first write when a write timeout is set. A network URL without a host and
a port in 1..65535 is refused with the form it needs, before pyserial sees it.
"""
from __future__ import annotations

import errno
import select
import time
from urllib.parse import urlsplit

import serial

from kei.errors import UsageError
from kei.hil.errors import LinkError, LinkLost, LinkTimeout

# Largest single read: far more than a window of telemetry frames (16 x 59 bytes), so one call
# usually drains everything that has arrived.
READ_CHUNK_BYTES = 65536
# Poll period for URL handlers without a file descriptor (rfc2217://, loop://).
POLL_PERIOD_S = 0.001
NETWORK_SCHEMES = ("socket", "rfc2217")
# What each kind of port is opened with, beyond the baud rate and timeout=0. A device path or
# socket:// takes a write timeout and an exclusive lock; rfc2217:// takes neither (pyserial 3.5).
_OPTIONS = {"rfc2217": ()}
_DEFAULT_OPTIONS = ("write_timeout", "exclusive")


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def check_url(url: str) -> None:
    """A network URL names a host and a port (UsageError with the form it needs)."""
    scheme = _scheme(url)
    if scheme not in NETWORK_SCHEMES:
        return
    form = f"{scheme}://HOST:PORT, e.g. {scheme}://bench-pi:4000"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as err:
        raise UsageError("--port", f"{url}: {err}; expected {form}") from None
    if not host:
        raise UsageError("--port", f"{url}: no host; expected {form}")
    if port is None or not 1 <= port <= 65535:
        raise UsageError("--port", f"{url}: no port (1-65535); expected {form}")


class Transport:
    """A bidirectional byte stream with timeouts. Subclasses implement the four `_` methods."""

    def __init__(self, name: str):
        self.name = name  # the port or URL, for messages
        self.bytes_written = 0
        self.bytes_read = 0

    # -- what backends implement ---------------------------------------------------------------
    def _open(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def _read_available(self, max_bytes: int, timeout_s: float) -> bytes:
        """Bytes that arrived, waiting up to `timeout_s` for the first; b"" on timeout."""
        raise NotImplementedError

    # -- the interface the session uses --------------------------------------------------------
    @property
    def is_open(self) -> bool:
        raise NotImplementedError

    def open(self) -> "Transport":
        self._open()
        return self

    def close(self) -> None:
        self._close()

    def reopen(self) -> None:
        """Close (ignoring errors: the port may already be gone) and open again."""
        try:
            self._close()
        except LinkError:
            pass
        self._open()

    def write(self, data: bytes) -> None:
        self._write(data)
        self.bytes_written += len(data)

    def read(self, timeout_s: float, max_bytes: int = READ_CHUNK_BYTES) -> bytes:
        data = self._read_available(max_bytes, max(0.0, timeout_s))
        self.bytes_read += len(data)
        return data

    def read_exact(self, n: int, timeout_s: float) -> bytes:
        """Exactly `n` bytes, or LinkTimeout naming how many arrived."""
        deadline = time.monotonic() + timeout_s
        out = bytearray()
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LinkTimeout(f"{self.name}: {len(out)} of {n} bytes within {timeout_s:g} s")
            out += self.read(left, n - len(out))
        return bytes(out)

    def reset_input(self) -> None:
        """Discard whatever has arrived and not been read (stale answers before a new session)."""
        while self.read(0.0):
            pass

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.close()
        except LinkError:
            pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class SerialTransport(Transport):
    """Any port pyserial opens: a device path (/dev/ttyUSB0, /dev/pts/N) or a URL (socket://,
    rfc2217://, loop://, spy://). Exclusive where supported (an advisory flock on POSIX, so two
    benches cannot share one BMS by accident)."""

    def __init__(self, url: str, baudrate: int = 115200, write_timeout_s: float = 2.0):
        super().__init__(url)
        self.baudrate = baudrate
        self.write_timeout_s = write_timeout_s
        self._port: serial.SerialBase | None = None
        self._fd: int | None = None

    @property
    def is_open(self) -> bool:
        return self._port is not None and self._port.is_open

    def _open(self) -> None:
        check_url(self.name)
        options = {"write_timeout": self.write_timeout_s, "exclusive": True}
        wanted = _OPTIONS.get(_scheme(self.name), _DEFAULT_OPTIONS)
        try:
            # timeout=0: reads never block inside pyserial; waiting is done in _read_available.
            port = serial.serial_for_url(self.name, baudrate=self.baudrate, timeout=0,
                                         **{k: v for k, v in options.items() if k in wanted})
        except (serial.SerialException, OSError, ValueError) as err:
            raise LinkError(f"{self.name}: cannot open: {err}") from err
        self._port = port
        try:
            self._fd = port.fileno()
        except (AttributeError, NotImplementedError, serial.SerialException, OSError):
            self._fd = None

    def _close(self) -> None:
        port, self._port, self._fd = self._port, None, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError) as err:
                raise LinkError(f"{self.name}: close failed: {err}") from err

    def _require_open(self) -> serial.SerialBase:
        if self._port is None:
            raise LinkLost(self.name, "port is closed")
        return self._port

    def _write(self, data: bytes) -> None:
        port = self._require_open()
        try:
            port.write(data)
        except serial.SerialTimeoutException as err:
            raise LinkTimeout(f"{self.name}: write of {len(data)} bytes blocked for "
                              f"{self.write_timeout_s:g} s (device not reading?)") from err
        except (serial.SerialException, OSError) as err:
            raise LinkLost(self.name, f"write failed: {err}") from err

    def _read_available(self, max_bytes: int, timeout_s: float) -> bytes:
        port = self._require_open()
        try:
            if self._fd is not None:
                if timeout_s > 0:
                    ready, _, _ = select.select([self._fd], [], [], timeout_s)
                    if not ready:
                        return b""
                return port.read(max_bytes)
            deadline = time.monotonic() + timeout_s
            while True:
                data = port.read(max_bytes)
                if data or time.monotonic() >= deadline:
                    return data
                time.sleep(POLL_PERIOD_S)
        except (serial.SerialException, OSError) as err:
            if isinstance(err, OSError) and err.errno == errno.EINTR:
                return b""
            raise LinkLost(self.name, f"read failed: {err}") from err
        except (TypeError, ValueError) as err:  # select on a descriptor closed under us
            raise LinkLost(self.name, f"read failed: {err}") from err


def open_link(url: str, baudrate: int = 115200, write_timeout_s: float = 2.0) -> SerialTransport:
    """Open `url` (a port path or a pyserial URL); LinkError names the port if it cannot."""
    return SerialTransport(url, baudrate=baudrate, write_timeout_s=write_timeout_s).open()


def list_ports() -> list[dict]:
    """Serial ports the OS knows (USB adapters, on-board UARTs), as plain dicts for printing."""
    from serial.tools import list_ports as lp

    rows = []
    for info in sorted(lp.comports(), key=lambda p: p.device):
        rows.append({"device": info.device, "description": info.description or "",
                     "hwid": info.hwid or "", "manufacturer": info.manufacturer or "",
                     "serial_number": info.serial_number or ""})
    return rows
