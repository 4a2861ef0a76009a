"""kei installed from its wheel, outside the checkout: only `kei` is importable, every kei module
and every bundled file comes from the installed copy, and the commands find their data by name.

The venv borrows this interpreter's dependencies (--system-site-packages, the wheel with --no-deps)
to stay fast; the editable install of the checkout may be visible through them, so the test checks
where each module and data folder actually came from. .ci/wheel_check.sh does the same with a fully
fresh venv before the suite runs.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

CHECK = r"""
import importlib, importlib.resources, json, pkgutil, sys
import kei, kei.optimizer, kei.hil
for sub in pkgutil.walk_packages(kei.__path__, "kei."):
    if sub.name.endswith("__main__"):
        continue
    importlib.import_module(sub.name)
files = {name: getattr(m, "__file__", None) for name, m in sys.modules.items() if name.split(".")[0] == "kei"}
data = {p: str(importlib.resources.files(p)) for p in ("kei.configs", "kei.firmware_stubs", "kei.vehicle")}
tops = {}
for name in ("optimizer", "hil"):
    try:
        importlib.import_module(name)
        tops[name] = "importable"
    except ImportError:
        tops[name] = "ImportError"
print(json.dumps({"files": files, "data": data, "tops": tops}))
"""


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    run = lambda *cmd: subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)  # noqa: E731
    # Build from a clean copy: setuptools reuses a checkout's build/ folder, which would hide a
    # package left out of pyproject.toml behind files an earlier build put there.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", "runs",
                                                               ".pytest_cache", ".hypothesis"))
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check", "-w",
        str(work / "dist"), str(source))
    run(sys.executable, "-m", "venv", "--system-site-packages", str(work / "venv"))
    wheel = next((work / "dist").glob("kei-*.whl"))
    run(str(work / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
        "--disable-pip-version-check", str(wheel))
    return work


def in_venv(work, *args, check=True):
    env = {**os.environ, "PATH": f"{work / 'venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "KEI_BUILD_DIR": str(work / "build")}
    env.pop("KEI_CONFIG_DIR", None)
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=work, env=env)
    assert not check or done.returncode == 0, done.stderr
    return done


def test_only_kei_is_importable_and_everything_comes_from_the_wheel(wheel_venv):
    site = str(wheel_venv / "venv")
    out = json.loads(in_venv(wheel_venv, str(wheel_venv / "venv" / "bin" / "python"), "-c", CHECK).stdout)
    assert out["tops"] == {"optimizer": "ImportError", "hil": "ImportError"}
    outside = {name: f for name, f in out["files"].items() if f and not f.startswith(site)}
    assert outside == {}, "kei modules imported from outside the installed wheel"
    assert all(path.startswith(site) for path in out["data"].values()), out["data"]
    assert len(out["files"]) > 60  # every module of the three packages imported


def test_commands_find_bundled_data_by_name(wheel_venv):
    kei = str(wheel_venv / "venv" / "bin" / "kei")
    sim = json.loads(in_venv(wheel_venv, kei, "simulate", "nissan_sakura", "--cycle", "wltc_jp", "--json").stdout)
    assert sim["vehicle"] == "Nissan Sakura X" and sim["range_km"] > 100
    header = in_venv(wheel_venv, kei, "firmware", "config", "sakura_pack").stdout
    assert "KEI_PACK_CONFIGURE" in header and "configs/designs/sakura_pack.toml" in header
    solved = in_venv(wheel_venv, kei, "solve", "us_kei_15k", check=False)
    assert solved.returncode == 4 and "The best one at the floor price" in solved.stdout


def test_the_c_stub_builds_from_the_wheel_and_runs_a_session(wheel_venv):
    kei = str(wheel_venv / "venv" / "bin" / "kei")
    done = in_venv(wheel_venv, kei, "hil", "run", "us_kei_150km", "--emulator", "firmware", "--max-steps", "200",
                   "--log", str(wheel_venv / "run"), "--json")
    assert json.loads(done.stdout)["steps"] == 200
    assert (wheel_venv / "build" / "kei_bms_host").is_file()  # built outside the installed sources
