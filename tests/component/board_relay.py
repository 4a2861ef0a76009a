"""A board behind a USB-UART bridge, for the bench's reliability tests: the host opens a pty (the
bridge, which stays open whatever the board does) relayed to a real device process (the Python
emulator or the C stub). The board can be reset (its process replaced by a fresh one, which boots
with its compiled-in configuration) after the host has sent N STEP frames, and the relay can answer
or rewrite frames itself: a device that NACKs forever, or one that reports a NaN voltage."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
import tty

from kei.hil.firmware.build import ensure_host_binary
from kei.hil.wire import protocol as P
from kei.hil.wire.framing import FrameDecoder, encode_frame


def device_command(kind: str) -> list[str]:
    if kind == "firmware":
        return [str(ensure_host_binary())]
    return [sys.executable, "-m", "kei.hil.emulator"]


class BoardRelay:
    """`on_host(body)` may return bytes to answer the host with instead of forwarding the frame;
    `on_device(body)` may return a replacement body for a frame on its way to the host."""

    def __init__(self, kind: str, *, reset_after_steps: int | None = None, on_host=None, on_device=None):
        self.kind = kind
        self.reset_after_steps = reset_after_steps
        self.on_host = on_host
        self.on_device = on_device
        self.steps_seen = 0
        self.resets = 0
        self.master, self.slave = os.openpty()
        for fd in (self.master, self.slave):
            tty.setraw(fd)
        self.port = os.ttyname(self.slave)
        self.proc = None
        self.dev = -1
        self._start_board()
        self._host_frames = FrameDecoder()
        self._dev_frames = FrameDecoder()
        self._stop = False
        self.thread = threading.Thread(target=self._relay, daemon=True)
        self.thread.start()

    def _start_board(self) -> None:
        self.proc = subprocess.Popen(device_command(self.kind) + ["--idle-exit-s", "120"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        path = self.proc.stdout.readline().split()[1]
        self.dev = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.dev)

    def _reset_board(self) -> None:
        """The board resets; the bridge (the host's port) stays open."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(5)
        self.proc.stdout.close()
        os.close(self.dev)
        self._start_board()
        self._dev_frames = FrameDecoder()
        self.resets += 1

    def _to_device(self, data: bytes) -> None:
        if self.on_host is None:  # bytes as they are; frames only counted
            for body in self._host_frames.feed(data):
                self._count(body)
            os.write(self.dev, data)
            return
        for body in self._host_frames.feed(data):
            self._count(body)
            answer = self.on_host(body)
            if answer is None:
                os.write(self.dev, encode_frame(body))
            elif answer:
                os.write(self.master, answer)

    def _count(self, body: bytes) -> None:
        if body[0] == P.MsgType.STEP:
            self.steps_seen += 1
            if self.reset_after_steps is not None and self.steps_seen == self.reset_after_steps:
                self._reset_board()

    def _to_host(self, data: bytes) -> None:
        if self.on_device is None:
            os.write(self.master, data)
            return
        out = b""
        for body in self._dev_frames.feed(data):
            out += encode_frame(self.on_device(body) or body)
        if out:
            os.write(self.master, out)

    def _relay(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self.master, self.dev], [], [], 0.05)
            try:
                if self.master in ready:
                    self._to_device(os.read(self.master, 65536))
                if self.dev in ready:
                    self._to_host(os.read(self.dev, 65536))
            except OSError:
                if self._stop:
                    return
                time.sleep(0.01)  # the board is gone for a moment (a reset): do not spin

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stdout.close()
        for fd in (self.master, self.slave, self.dev):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "BoardRelay":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
