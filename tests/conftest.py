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
