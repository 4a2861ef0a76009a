"""The firmware stub's own C tests, its fuzz driver and its size, built with the machine's compiler.

A build that fails, or a machine without gcc/make, FAILS these tests with make's output (CI has
both; a skip here would hide a broken stub)."""
from __future__ import annotations

import re
import subprocess

import pytest
from firmware_support import BUILDS, C_TESTS, build_all

from kei.hil.firmware.build import FIRMWARE_DIR, FirmwareBuildError, make

SUMMARY = re.compile(r"^(test_\w+): (\d+) passed, (\d+) failed$", re.M)
FUZZ_INPUTS = 200_000          # a few seconds under the sanitizers; docs/firmware.md has the long runs
CORE_CODE_LIMIT_BYTES = 16 * 1024  # issue 5: a core under 16 KiB of code ...
RAM_LIMIT_BYTES = 4 * 1024         # ... and 4 KiB of RAM


def test_builds_and_is_incremental():
    build_all()
    # `make -q` exits 0 only if every target is up to date: nothing is rebuilt needlessly
    for build, path in BUILDS.items():  # the asan and double targets are recursive: ask their sub-make
        done = subprocess.run(["make", "-q", "-C", str(FIRMWARE_DIR), f"BUILD={path}", "all", "tests"],
                              capture_output=True, text=True)
        assert done.returncode == 0, f"make -q ({build}): something would be rebuilt\n{done.stdout}{done.stderr}"


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("program", C_TESTS)
def test_c_program(program, build):
    build_all()
    done = subprocess.run([str(BUILDS[build] / "tests" / program)], capture_output=True, text=True, timeout=120)
    summary = SUMMARY.search(done.stdout)
    assert summary, f"{program} ({build}) printed no summary; exit {done.returncode}\n{done.stdout}{done.stderr}"
    name, passed, failed = summary.group(1), int(summary.group(2)), int(summary.group(3))
    assert (name, failed, done.returncode) == (program, 0, 0), f"{done.stdout}{done.stderr}"
    assert passed >= 50  # every program checks a lot; a gutted one would show here


def test_fuzz_decoder_and_device_under_sanitizers():
    build_all()
    done = subprocess.run([str(BUILDS["asan"] / "fuzz" / "fuzz_random"), str(FUZZ_INPUTS), "20261125"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"fuzz driver failed (a sanitizer report or a broken invariant):\n" \
                                 f"{done.stdout}{done.stderr[-4000:]}"
    inputs = int(re.search(r"fuzz_random: (\d+) inputs", done.stdout).group(1))
    assert inputs == FUZZ_INPUTS
    # the mutations reach every path: valid frames, each error kind, steps, every answer type
    dec = re.search(r"(\d+) frames accepted; errors cobs (\d+) crc (\d+) short (\d+) oversize (\d+)", done.stdout)
    assert all(int(x) > 0 for x in dec.groups()), done.stdout
    dev = re.search(r"(\d+) steps applied; answers HELLO_ACK (\d+) ACK (\d+) NACK (\d+) TELEMETRY (\d+) FAULT (\d+)",
                    done.stdout)
    assert all(int(x) > 0 for x in dev.groups()), done.stdout


def test_core_fits_a_small_mcu():
    out = make("size-host")
    totals = re.findall(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\w+\s+\(TOTALS\)$", out, re.M)
    assert len(totals) == 2, out  # -O2 and -Os
    for text, data, bss in totals:
        assert int(text) < CORE_CODE_LIMIT_BYTES, out
        assert int(data) == 0 and int(bss) == 0, "the core must keep no static state\n" + out
    ram = int(re.search(r"sizeof\(kei_device_t\) = (\d+) bytes", out).group(1))
    assert ram < RAM_LIMIT_BYTES, out


def test_failed_build_reports_the_compiler_output(tmp_path):
    # a compile-time option out of range: the header's #error must reach the caller verbatim
    with pytest.raises(FirmwareBuildError, match="KEI_MAX_BODY must hold the largest message"):
        make("all", variables={"BUILD": str(tmp_path / "bad"), "VARIANT_FLAGS": "-DKEI_MAX_BODY=10"})
