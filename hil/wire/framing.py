"""Frame codec of the bench protocol (docs/protocol.md section 2): COBS + CRC-16/CCITT-FALSE.

Pure: bytes in, bytes out; it never touches a port. On the wire a frame is
`COBS(body | crc) 0x00`. In this module and in `hil.protocol`, *body* means `type | seq | payload`:
the CRC is added by `encode_frame` and checked and stripped by `FrameDecoder`, so callers never see it.
"""
from __future__ import annotations

import binascii
from collections import deque

from kei.hil.errors import FrameError

MAX_BODY = 160
"""Largest decoded frame, CRC included, a receiver accepts (protocol.md section 2)."""
MIN_BODY = 5
"""Smallest decoded frame: type (1) + seq (2) + crc (2)."""
CRC_INIT = 0xFFFF
DELIMITER = b"\x00"
ERROR_KINDS = ("cobs", "crc", "short", "oversize")
# A valid COBS encoding of n <= 254 bytes is n + 1 bytes long, so any delimited run longer than
# MAX_BODY + 1 decodes to more than MAX_BODY bytes (or is not valid COBS): oversize either way.
_MAX_ENCODED = MAX_BODY + 1
_KEEP_ERRORS = 256  # FrameErrors kept for pop_errors(); the counters stay exact beyond this


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR); check 0x29B1."""
    return binascii.crc_hqx(data, CRC_INIT)


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing (Cheshire & Baker 1999): the result holds no zero byte."""
    out = bytearray()
    for chunk in bytes(data).split(DELIMITER):
        while len(chunk) >= 254:  # a full block: code 0xFF, no implied zero after it
            out.append(0xFF)
            out += chunk[:254]
            chunk = chunk[254:]
        out.append(len(chunk) + 1)
        out += chunk
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Inverse of `cobs_encode`; raises FrameError('cobs') on a zero byte or a block past the end."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        end = i + code
        if code == 0 or end > n:
            what = "zero byte inside a frame" if code == 0 else f"block of {code - 1} bytes at offset {i} runs past the end ({n} bytes)"
            raise FrameError("cobs", what, data)
        block = data[i + 1:end]
        if 0 in block:
            raise FrameError("cobs", "zero byte inside a frame", data)
        out += block
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(body: bytes) -> bytes:
    """`type | seq | payload` -> the bytes on the wire: COBS(body | crc16 LE) 0x00."""
    crc = crc16(body)
    return cobs_encode(bytes(body) + bytes((crc & 0xFF, crc >> 8))) + DELIMITER


def decode_frame(encoded: bytes) -> bytes:
    """One delimited frame (without its 0x00) -> body without the CRC. Raises FrameError."""
    if len(encoded) > _MAX_ENCODED:
        raise FrameError("oversize", f"{len(encoded)} encoded bytes, more than a {MAX_BODY}-byte body needs", encoded)
    raw = cobs_decode(encoded)
    if len(raw) < MIN_BODY:
        raise FrameError("short", f"{len(raw)} bytes, fewer than the {MIN_BODY} of type + seq + crc", raw)
    got = raw[-2] | (raw[-1] << 8)
    want = crc16(raw[:-2])
    if got != want:
        raise FrameError("crc", f"CRC {got:#06x}, computed {want:#06x}", raw)
    return raw[:-2]


class FrameDecoder:
    """Incremental receiver: `feed(bytes)` returns the bodies of the complete, valid frames in it.

    Never raises: bad frames are dropped and counted by kind in `errors` (cobs, crc, short,
    oversize); `pop_errors()` hands out the FrameError of each drop (the most recent 256), whose
    `index` is the 1-based number of the frame on this stream, so a host can log "frame N: bad CRC".
    Buffers at most MAX_BODY + 1 bytes: a longer run is counted oversize once and skipped up to the
    next 0x00, which resynchronizes. Empty frames (0x00 0x00) are ignored without counting.
    """

    __slots__ = ("_buf", "_skipping", "errors", "frames_ok", "frames_seen", "_dropped")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skipping = False
        self.errors: dict[str, int] = dict.fromkeys(ERROR_KINDS, 0)
        self.frames_ok = 0
        self.frames_seen = 0
        self._dropped: deque[FrameError] = deque(maxlen=_KEEP_ERRORS)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held (at most MAX_BODY + 1)."""
        return len(self._buf)

    def pop_errors(self) -> list[FrameError]:
        """The FrameErrors of frames dropped since the last call, oldest first."""
        out = list(self._dropped)
        self._dropped.clear()
        return out

    def reset(self) -> None:
        """Forget any partial frame (e.g. after reopening a port); counters are kept."""
        self._buf.clear()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        parts = bytes(data).split(DELIMITER)
        tail = parts.pop()
        bodies: list[bytes] = []
        if parts:
            head = parts[0]
            if self._skipping:
                # The rest of an oversize run (already counted); this 0x00 ends it.
                self._skipping = False
                parts[0] = b""
            elif self._buf:
                self._buf += head
                parts[0] = bytes(self._buf)
                self._buf.clear()
            for encoded in parts:
                if encoded:
                    self._frame(encoded, bodies)
        self._hold(tail)
        return bodies

    def _frame(self, encoded: bytes, bodies: list[bytes]) -> None:
        self.frames_seen += 1
        try:
            bodies.append(decode_frame(encoded))
            self.frames_ok += 1
        except FrameError as err:
            self._drop(err)

    def _hold(self, tail: bytes) -> None:
        if self._skipping or not tail:
            return
        if len(self._buf) + len(tail) > _MAX_ENCODED:
            self.frames_seen += 1
            self._drop(FrameError("oversize", f"no 0x00 within {_MAX_ENCODED} bytes", bytes(self._buf[:64]) or tail))
            self._buf.clear()
            self._skipping = True
        else:
            self._buf += tail

    def _drop(self, err: FrameError) -> None:
        err.index = self.frames_seen
        err.args = (f"frame {self.frames_seen}: {err.args[0]}",)
        self.errors[err.kind] += 1
        self._dropped.append(err)
