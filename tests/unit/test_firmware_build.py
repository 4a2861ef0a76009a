"""hil.firmware_build without a toolchain: a machine lacking make or cc gets a FirmwareBuildError that
says what to install (the component tests then fail with it; they never skip)."""
from __future__ import annotations

import pytest

from kei.hil.errors import BenchError
from kei.hil.firmware.build import FirmwareBuildError, make


def test_missing_toolchain_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no make, no cc
    with pytest.raises(FirmwareBuildError, match="make and cc not found.*gcc make") as err:
        make("all")
    assert isinstance(err.value, BenchError)
