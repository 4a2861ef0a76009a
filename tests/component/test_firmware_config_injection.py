"""Issue 15, must fix 3: no code from a design file. `battery.cell.id` went raw into a C comment of
pack_config.h; an id holding `*/` compiled under -Werror and ran `system()` at start-up. Now an id is
refused unless it is a plain name, and every other string (paths, notes) is made inert: the header
preprocesses to exactly the tokens of a clean one, so it compiles to the same behaviour."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, run_kei
from firmware_support import DeviceProcess

from kei.errors import ConfigError
from kei.hil.firmware.build import BUILD_DIR, make
from kei.hil.firmware.header import pack_config_header
from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.hil.wire import protocol as P
from kei.vehicle.files import load_vehicle

DESIGN = ROOT / "configs" / "designs" / "sakura_pack.toml"
CELL_ID = 'id = "nmc_pouch_28ah6"'
HOSTILE = [
    'x */ int injected = 1; /* y',
    'x */\\n#include <stdlib.h>\\nstatic int boom = system(\\"touch /tmp/kei-pwned\\"); /*',
    'quote \\" and \' inside',
    'back\\\\slash at the end \\\\',
    'trigraph ??/',
    'new\\nline',
    '',
]
HOSTILE_TEXT = ['x */ int injected = 1; /*', 'a\nb */ #define KEI_PACK_CONFIGURE {0} /*', 'c\\', 'd ??/', '"q"']


def design_with_cell_id(tmp_path: Path, cell_id: str) -> Path:
    text = DESIGN.read_text()
    assert CELL_ID in text
    path = tmp_path / "evil.toml"
    path.write_text(text.replace(CELL_ID, f'id = "{cell_id}"'))
    return path


@pytest.mark.parametrize("cell_id", HOSTILE)
def test_a_cell_id_that_is_not_a_plain_name_is_refused(tmp_path, cell_id):
    design = design_with_cell_id(tmp_path, cell_id)
    setup = pack_setup(load_vehicle(design), load_bms_config())
    with pytest.raises(ConfigError, match=r"evil.toml: battery.cell.id: .* cannot go into the firmware's generated C"):
        pack_config_header(setup, design_file=str(design), bms_file="bms.toml")


def test_kei_firmware_config_refuses_the_issues_id_with_exit_code_3(tmp_path):
    done = run_kei("firmware", "config", design_with_cell_id(tmp_path, HOSTILE[1]))
    assert done.returncode == 3 and done.stdout == ""
    assert "evil.toml: battery.cell.id" in done.stderr and "cannot go into the firmware's generated C" in done.stderr


def preprocessed(header: Path) -> str:
    """The header's tokens, comments gone: what the compiler acts on."""
    cc = shutil.which("cc") or "gcc"
    done = subprocess.run([cc, "-std=c99", "-E", "-P", "-x", "c", str(header)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_hostile_paths_and_notes_preprocess_to_the_clean_header_and_boot_the_same(tmp_path):
    setup = pack_setup(load_vehicle(DESIGN), load_bms_config())
    clean = tmp_path / "clean.h"
    clean.write_text(pack_config_header(setup, design_file="design.toml", bms_file="bms.toml"))
    for i, text in enumerate(HOSTILE_TEXT):
        noted = setup.__class__(**{**setup.__dict__, "notes": (text, "note " + text)})
        evil = tmp_path / f"evil{i}.h"
        evil.write_text(pack_config_header(noted, design_file=f"dir/{text}/design.toml", bms_file=text))
        assert preprocessed(evil) == preprocessed(clean), text
    # and it builds under the stub's -Werror flags and boots configured as the clean one does
    build = BUILD_DIR / "injection-test"
    make("all", pack_config=evil, variables={"BUILD": str(build)})
    with DeviceProcess([str(build / "kei_bms_host")]) as dev:
        assert dev.request(P.Hello(1)).configured == 1
        t = dev.request(P.Status(2))
    assert isinstance(t, P.Telemetry) and t.soc_estimate == pytest.approx(setup.configure.soc_estimate)


def test_kei_firmware_config_from_a_hostile_directory_name(tmp_path):
    """A real path holding `*/` (a directory may be named so) goes into the header's comment."""
    folder = tmp_path / "x*" / " int injected = 1; " / "*y"
    folder.mkdir(parents=True)
    design = folder / "design.toml"
    design.write_text(DESIGN.read_text())
    done = run_kei("firmware", "config", design)
    assert done.returncode == 0, done.stderr
    header = tmp_path / "pack_config.h"
    header.write_text(done.stdout)
    clean = tmp_path / "clean.h"
    clean.write_text(run_kei("firmware", "config", DESIGN).stdout)
    assert "*/ int injected" not in done.stdout
    assert preprocessed(header) == preprocessed(clean)
    assert all(" " <= ch <= "~" or ch == "\n" for ch in done.stdout)  # printable ASCII only
