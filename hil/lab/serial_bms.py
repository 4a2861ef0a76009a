"""What the JBD and Daly clients share: a pyserial port opened non-blocking, and reads by length
with a deadline (pyserial #88: inter_byte_timeout does not end a read early on POSIX)."""
from __future__ import annotations

import select
import time

import serial

from kei.hil.errors import BmsLinkError


class SerialPort:
    def __init__(self, url: str, baudrate: int, timeout_s: float):
        self.url, self.baudrate, self.timeout_s = url, baudrate, timeout_s
        self._port = None

    def open(self) -> None:
        try:
            self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as err:
            raise BmsLinkError(f"{self.url}: cannot open the BMS port: {err}") from err

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass

    def exchange(self, request: bytes, parse) -> object:
        """Write `request`; feed what arrives to `parse(buffer) -> result or None` until it has a result
        or `timeout_s` passes (None)."""
        if self._port is None:
            raise BmsLinkError(f"{self.url}: BMS port is closed")
        try:
            self._port.reset_input_buffer()
            self._port.write(request)
            buf = bytearray()
            deadline = time.monotonic() + self.timeout_s
            try:
                fd = self._port.fileno()
            except (AttributeError, NotImplementedError, serial.SerialException, OSError):
                fd = None
            while (left := deadline - time.monotonic()) > 0:
                if fd is not None:
                    select.select([fd], [], [], left)
                chunk = self._port.read(4096)
                if chunk:
                    buf += chunk
                    result = parse(buf)
                    if result is not None:
                        return result
                elif fd is None:
                    time.sleep(0.001)
            return None
        except (serial.SerialException, OSError) as err:
            raise BmsLinkError(f"{self.url}: BMS link lost: {err}") from err
