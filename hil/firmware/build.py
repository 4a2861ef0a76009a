"""Build the C firmware stub with its Makefile (`make -C firmware_stubs ...`) and find its programs.

The session (`kei hil run --emulator firmware`), `kei firmware build` and the tests all come through
here, so a missing compiler or a failing build reads the same everywhere: a FirmwareBuildError with
the command and the compiler's own output. make is incremental: calling it when nothing changed
costs a few milliseconds.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

from kei.hil.errors import DeviceUnavailable
from kei.resources import firmware_build_dir, firmware_dir

# Sources ship as package data (kei.resources); builds go to firmware_build_dir(): beside the
# sources in a checkout, a cache folder when installed from a wheel.
FIRMWARE_DIR = firmware_dir()
BUILD_DIR = firmware_build_dir()
HOST_BINARY = BUILD_DIR / "kei_bms_host"
ASAN_HOST_BINARY = BUILD_DIR / "asan" / "kei_bms_host"
DEFAULT_PACK_CONFIG = FIRMWARE_DIR / "config" / "pack_config.h"
LOCK_FILE = BUILD_DIR / ".make.lock"
MAKE_TIMEOUT_S = 600.0
MAX_MAKE_JOBS = 4
OUTPUT_TAIL_CHARS = 6000  # enough for the first compiler errors, short enough to read


class FirmwareBuildError(DeviceUnavailable):
    """The firmware stub could not be built (no compiler, or the build failed: output attached): the
    device it would have been is unavailable."""


def make(*targets: str, pack_config: str | Path | None = None, variables: dict[str, str] | None = None) -> str:
    """Run `make -C firmware_stubs TARGETS [PACK_CONFIG=...]`; return its output or raise FirmwareBuildError."""
    missing = [tool for tool in ("make", "cc") if shutil.which(tool) is None]
    if missing:
        raise FirmwareBuildError(f"cannot build {FIRMWARE_DIR}: {' and '.join(missing)} not found on PATH "
                                 "(the firmware stub needs a C99 compiler and make: e.g. apt-get install gcc make)")
    jobs = min(os.cpu_count() or 1, MAX_MAKE_JOBS)
    cmd = ["make", f"-j{jobs}", "--no-print-directory", "-C", str(FIRMWARE_DIR), f"BUILD={BUILD_DIR}", *targets]
    if pack_config is not None:
        cmd.append(f"PACK_CONFIG={Path(pack_config).resolve()}")
    cmd += [f"{k}={v}" for k, v in (variables or {}).items()]
    try:
        with build_lock():
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=MAKE_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        raise FirmwareBuildError(f"{' '.join(cmd)}: no result after {MAKE_TIMEOUT_S:.0f} s") from err
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise FirmwareBuildError(f"{' '.join(cmd)} failed (exit {done.returncode}):\n{output[-OUTPUT_TAIL_CHARS:]}")
    return output


@contextmanager
def build_lock():
    """One make at a time in the build folder. Two kei processes building at once (two sessions
    started together, the test suite's workers) would compile the same objects into the same files,
    and one could link the other's half-written object. An flock: the kernel drops it if its holder
    dies, and the second make then finds the targets up to date."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def ensure_host_binary(*, asan: bool = False, pack_config: str | Path | None = None) -> Path:
    """Build (if needed) and return the device program `kei_bms_host` (the sanitizer build with `asan`)."""
    make("asan" if asan else "all", pack_config=pack_config)
    return ASAN_HOST_BINARY if asan else HOST_BINARY
