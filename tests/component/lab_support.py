"""Helpers for the lab bench tests: the reference design, emulated bench configs, and the lab emulator
process started the way `kei hil run` starts it."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kei.hil.lab.config import load_lab_config
from kei.hil.lab.emulated import start_lab_emulator, write_pack
from kei.hil.log.session_log import read_log
from kei.hil.setup.bms_config import load_bms_config
from kei.hil.setup.pack_setup import pack_setup
from kei.vehicle.files import load_vehicle

ROOT = Path(__file__).resolve().parents[2]
HEADLINE = ROOT / "configs" / "designs" / "us_kei_15k.toml"
DESIGN = HEADLINE if HEADLINE.exists() else ROOT / "configs" / "designs" / "us_kei_150km.toml"
CYCLE = load_vehicle(DESIGN).design.cycle
EMULATED = ROOT / "configs" / "lab" / "emulated.toml"


def lab_config_file(tmp_path: Path, name: str = "lab.toml", **sections) -> Path:
    """configs/lab/emulated.toml with `section={key: value}` replaced or added."""
    import tomllib

    raw = tomllib.loads(EMULATED.read_text())
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    lines = []
    for section, table in raw.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def design_pack():
    setup = pack_setup(load_vehicle(DESIGN), load_bms_config())
    return setup.configure, setup.ocv_table


def start_emulator(tmp_path: Path, **emulator_and_bms):
    """A lab emulator process for the design's pack; `bms=`, `model=`, `clock=` ... override the config."""
    bms = emulator_and_bms.pop("bms", "jbd")
    model = emulator_and_bms.pop("model", "generic")
    cfg = load_lab_config(lab_config_file(tmp_path, f"emu_{bms}_{model}.toml", bms={"protocol": bms},
                                          instrument={"model": model}, emulator=emulator_and_bms))
    configure, ocv = design_pack()
    return start_lab_emulator(cfg, write_pack(tmp_path, configure, ocv), tmp_path / f"emu_{bms}_{model}.log")


def kei(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "kei", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def kei_json(*args, timeout=300, code=0):
    out = kei(*args, "--json", timeout=timeout)
    assert out.returncode == code, out.stderr[-3000:]
    return json.loads(out.stdout) if code == 0 else out


def start_kei(*args):
    return subprocess.Popen([sys.executable, "-m", "kei", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def rows_logged(log_dir: Path) -> int:
    try:
        return (log_dir / "steps.csv").read_text().count("\n") - 1
    except FileNotFoundError:
        return 0


def wait_for_rows(log_dir: Path, n: int, proc, timeout_s=120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while rows_logged(log_dir) < n:
        assert proc.poll() is None, f"host exited early: {proc.communicate()}"
        assert time.monotonic() < deadline, f"fewer than {n} rows in {timeout_s} s"
        time.sleep(0.02)


def emulator_info(log_dir: Path) -> dict:
    (info,) = [e["info"] for e in read_log(log_dir).events if e["event"] == "device_started"]
    return info


def output_is_on(scpi_resource: str, query=":OUTP:STAT?") -> bool:
    """Ask the emulated instrument itself, with PyVISA, as a bench engineer would."""
    import pyvisa

    rm = pyvisa.ResourceManager("@py")
    inst = rm.open_resource(scpi_resource, read_termination="\n", write_termination="\n", timeout=3000)
    try:
        return inst.query(query).strip() in ("1", "ON")
    finally:
        inst.close()
        rm.close()


def stop_emulator(log_dir: Path) -> None:
    try:
        pid = emulator_info(log_dir)["pid"]
    except (ValueError, OSError, KeyError):  # no emulator was started
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def events(log_dir: Path) -> list[str]:
    return [e["event"] for e in read_log(log_dir).events]

