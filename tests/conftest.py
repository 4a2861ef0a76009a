import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAKURA = ROOT / "configs" / "vehicles" / "nissan_sakura.toml"


@pytest.fixture
def sakura_path() -> Path:
    return SAKURA


def run_kei(*args: str, timeout: float = 120.0):
    """Run the installed `kei` entry point as a user would (a subprocess, real argv)."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "kei", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def pytest_addoption(parser):
    parser.addoption("--bench-config", default=None, metavar="LAB_TOML",
                     help="a lab bench config naming real instruments, for `pytest -m hardware` (tests/hardware/)")


def pytest_configure(config):
    config.addinivalue_line("markers", "hardware: needs the real lab instruments named by --bench-config (docs/lab.md)")


@pytest.fixture(scope="session")
def clean_hil_run(tmp_path_factory):
    """One clean `kei hil run` of the headline design on its cycle (Python emulator), shared by the
    bench's component tests that compare a faulty, resumed or restored run with it: (result, log dir)."""
    from test_hil_session import CYCLE, DESIGN, kei_json

    log_dir = tmp_path_factory.mktemp("hil") / "clean"
    result = kei_json("hil", "run", DESIGN, "--cycle", CYCLE, "--emulator", "python", "--log", log_dir)
    return result, log_dir
