"""The layout's rules (docs/architecture.md), checked on the import graph of the source tree:
the core imports neither half, the halves never import each other, nothing imports a CLI module,
the wire codec does no I/O, the emulator stands apart, and the wheel lists every package folder;
a checkout run without its install says so instead of reporting a bug."""
import ast
import subprocess
import sys
import tomllib

import pytest
from conftest import ROOT

FOLDERS = {"kei": "kei", "optimizer": "kei.optimizer", "hil": "kei.hil"}
IO_MODULES = {"serial", "socket", "select", "selectors", "os", "subprocess", "termios", "tty", "io", "pathlib"}


def modules():
    """(import name, path) of every module of the three packages."""
    for folder, prefix in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("").parts
            rel = rel[:-1] if rel[-1] == "__init__" else rel
            yield ".".join((prefix, *rel)), path


def imports(path):
    """Every module name a file imports statically (absolute; relative imports are not used)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; the tree uses absolute kei.* imports"
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


GRAPH = {name: (path, imports(path)) for name, path in modules()}


def offenders(selected, forbidden):
    return sorted(f"{name} imports {imp}" for name, (path, imps) in GRAPH.items() if selected(name)
                  for imp in imps if forbidden(imp))


def test_core_imports_neither_half():
    assert offenders(lambda n: n.split(".")[1:2] not in (["optimizer"], ["hil"]),
                     lambda i: i.startswith(("kei.optimizer", "kei.hil"))) == []


@pytest.mark.parametrize("half,other", [("kei.optimizer", "kei.hil"), ("kei.hil", "kei.optimizer")])
def test_halves_never_import_each_other(half, other):
    assert offenders(lambda n: n.startswith(half), lambda i: i.startswith(other)) == []


def is_cli(name):
    parts = name.split(".")
    return "cli" in parts[1:] or parts[-1] == "cli"


def test_nothing_imports_a_cli_module():
    assert offenders(lambda n: True, lambda i: i in GRAPH and is_cli(i) and i != "kei.cli") == []


def test_wire_does_no_io():
    assert offenders(lambda n: n.startswith("kei.hil.wire"), lambda i: i.split(".")[0] in IO_MODULES) == []


def test_emulator_imports_only_the_wire_errors_and_units():
    allowed = ("kei.hil.emulator", "kei.hil.wire", "kei.hil.errors", "kei.units", "kei.errors")
    assert offenders(lambda n: n.startswith("kei.hil.emulator"),
                     lambda i: i.startswith("kei") and not i.startswith(allowed)) == []


def test_every_package_folder_is_in_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {name for name, (path, _) in GRAPH.items() if path.name == "__init__.py"}
    assert packages - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_the_cli_knows_every_folder_the_install_maps():
    from kei.cli import MAPPED_PACKAGES

    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    assert set(MAPPED_PACKAGES) == {name for name, folder in package_dir.items() if name != folder}


# Python with the editable install's import hook removed: what a checkout that was never installed
# sees (kei/ is found from the working folder, optimizer/ and configs/ are not part of it).
WITHOUT_INSTALL = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path_hooks[:] = [h for h in sys.path_hooks if "__editable__" not in getattr(h, "__module__", "")]
sys.path_importer_cache.clear()
from kei.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", [["catalog"], ["simulate", "nissan_sakura", "--cycle", "wltc_jp"]])
def test_a_checkout_without_its_install_is_told_to_install(command):
    run = subprocess.run([sys.executable, "-c", WITHOUT_INSTALL, *command], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr
    assert "is not installed" in run.stderr and "pip install -e ." in run.stderr
    assert str(ROOT) in run.stderr  # where to run it
