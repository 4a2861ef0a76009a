"""Shared by the firmware component tests: build the stub once per session (a failed or impossible
build FAILS the tests, with make's output: CI has gcc and make), and talk to its host program over a
real pty with the Python codec (hil.framing + hil.protocol), an implementation independent of the C one."""
from __future__ import annotations

import fcntl
import functools
import os
import select
import signal
import subprocess
import time
import tty
from pathlib import Path

from kei.hil.firmware.build import ASAN_HOST_BINARY, BUILD_DIR, HOST_BINARY, make
from kei.hil.wire import protocol as P
from kei.hil.wire.framing import FrameDecoder

ANSWER_TIMEOUT_S = 5.0  # generous: the ASan build on a busy 2-core CI machine
C_TESTS = ("test_frame", "test_proto", "test_pack", "test_bms", "test_device")
BUILDS = {"normal": BUILD_DIR, "asan": BUILD_DIR / "asan", "double": BUILD_DIR / "double"}  # double: KEI_REAL=double
HOSTS = {name: path / "kei_bms_host" for name, path in BUILDS.items()}
assert HOSTS["normal"] == HOST_BINARY and HOSTS["asan"] == ASAN_HOST_BINARY


@functools.lru_cache(maxsize=None)
def build_all() -> str:
    """`make all tests asan double` once per test session; FirmwareBuildError (a test failure) if it cannot."""
    return make("all", "tests", "asan", "double")


class DeviceProcess:
    """A device program on its own pty: `PORT` line read, port opened raw, frames in and out."""

    def __init__(self, cmd: list[str], env: dict | None = None):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), f"{cmd}: expected 'PORT <path>', got {line!r}; stderr: {self.stderr()}"
        self.port = line.split(None, 1)[1].strip()
        self.fd = -1
        self.decoder = FrameDecoder()
        self.pending: list[P.Message] = []  # decoded, not yet handed out
        self.open()

    def open(self) -> None:
        self.fd = os.open(self.port, os.O_RDWR | os.O_NOCTTY)
        # kei's host takes this lock too (pyserial exclusive=True): on a shared machine, a host of another
        # run that reconnects to a pty number since reused by this device must not read its answers
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        tty.setraw(self.fd)
        os.write(self.fd, b"\x00")  # flush any partial frame, as a host does after opening

    def close_port(self) -> None:
        os.close(self.fd)
        self.fd = -1

    def send(self, *msgs: P.Message) -> None:
        os.write(self.fd, b"".join(m.frame() for m in msgs))

    def send_raw(self, data: bytes) -> None:
        os.write(self.fd, data)

    def receive(self, count: int, timeout_s: float = ANSWER_TIMEOUT_S) -> list[P.Message]:
        """The next `count` messages from the device (FAULTs included)."""
        deadline = time.monotonic() + timeout_s
        while len(self.pending) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"no answer: got {len(self.pending)} of {count} messages; device stderr: {self.stderr()}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                self.pending += [P.decode(body) for body in self.decoder.feed(os.read(self.fd, 65536))]
        assert sum(self.decoder.errors.values()) == 0, f"bad frames from the device: {self.decoder.errors}"
        out, self.pending = self.pending[:count], self.pending[count:]
        return out

    def request(self, msg: P.Message) -> P.Message:
        """Send one request and return its answer (FAULT frames before it are dropped)."""
        self.send(msg)
        while True:
            (answer,) = self.receive(1)
            if not isinstance(answer, P.Fault):
                return answer

    def run_steps(self, steps: list[P.Step], window: int = P.WINDOW) -> list[P.Message]:
        """Pipelined like the host: up to `window` steps in flight; every message back, in order."""
        out: list[P.Message] = []
        answered = sent = 0
        while answered < len(steps):
            while sent < len(steps) and sent - answered < window:
                self.send(steps[sent])
                sent += 1
            msg = self.receive(1)[0]
            out.append(msg)
            if not isinstance(msg, P.Fault):
                answered += 1
        return out

    def stop(self, timeout_s: float = 5.0) -> int:
        """SIGTERM; the exit status (the contract: 0, promptly)."""
        if self.fd >= 0:
            self.close_port()
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read()

    def __enter__(self) -> "DeviceProcess":
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.fd >= 0:
            os.close(self.fd)
        self.proc.stdout.close()
        self.proc.stderr.close()


def host_program(build: str = "normal") -> Path:
    build_all()
    return HOSTS[build]


# ---- the Cortex-M target under QEMU (test_firmware_qemu.py) ------------------------------------
QEMU_TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm")
QEMU_INSTALL = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
QEMU_REQUIRED_ENV = "KEI_REQUIRE_QEMU"  # .ci/run sets it to 1 once it has installed QEMU_TOOLS


def require_qemu_tools() -> None:
    """Skip (naming what is missing) on a machine without the ARM toolchain or QEMU; fail instead
    where KEI_REQUIRE_QEMU=1 says they were installed (CI), so a broken install is never a skip."""
    import shutil

    import pytest

    missing = [tool for tool in QEMU_TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    why = f"{' and '.join(missing)} not on PATH (Debian: {QEMU_INSTALL})"
    if os.environ.get(QEMU_REQUIRED_ENV) == "1":
        pytest.fail(f"{why}, but {QEMU_REQUIRED_ENV}=1 says they were installed")
    pytest.skip(f"Cortex-M target tests need the ARM toolchain and QEMU: {why}")
