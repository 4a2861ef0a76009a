"""hil.firmware_build without a toolchain: a machine lacking make or cc gets a FirmwareBuildError that
says what to install (the component tests then fail with it; they never skip). And two builds at
once take turns."""
from __future__ import annotations

import fcntl
import threading

import pytest

from kei.hil.errors import BenchError
from kei.hil.firmware.build import LOCK_FILE, FirmwareBuildError, build_lock, make


def test_missing_toolchain_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no make, no cc
    with pytest.raises(FirmwareBuildError, match="make and cc not found.*gcc make") as err:
        make("all")
    assert isinstance(err.value, BenchError)


def test_a_build_waits_while_another_holds_the_build_folder():
    """While another process builds (here: this test holding the build folder's flock from a second
    file description, as another process would), make does not start; it runs once the lock is free."""
    with build_lock():
        pass  # creates the folder and the lock file, as the first build on a fresh checkout does
    done = threading.Event()
    with open(LOCK_FILE, "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        builder = threading.Thread(target=lambda: (make("all"), done.set()), daemon=True)
        builder.start()
        assert not done.wait(1.0), "make ran while another build held the folder"
        fcntl.flock(other, fcntl.LOCK_UN)
    assert done.wait(300), "make did not run once the lock was free"
