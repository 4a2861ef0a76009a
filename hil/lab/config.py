"""A lab bench config (configs/lab/lab.toml): the instrument, the BMS, the host's limits, the session
settings and, for CI, the emulated bench. Schema here, reasons in the file (docs/lab.md).

A bench config is a *lab* config when it has an `[instrument]` table; `kei hil run --bench-config`
then runs the lab session. `[session]` is optional: its keys default to the bundled bench.toml's.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from kei.errors import ConfigError
from kei.hil.setup.bench_config import (
    LOG_FIELDS,
    SESSION_FIELDS,
    LogSettings,
    SessionSettings,
    bench_config_file,
    load_bench_config,
)
from kei.resources import config_file
from kei.schema import Field, read_toml, validate_table

EMULATOR = "emulator"  # instrument.resource / bms.port: start the lab emulator (hil/emulator/lab_main.py)

INSTRUMENT_FIELDS = (
    Field("model", str, "-", "command table: generic, sdl1000x, dl3000 (hil/lab/scpi_models.py)"),
    Field("resource", str, "-", "VISA resource (TCPIP::HOST::5025::SOCKET, ASRL/dev/ttyUSB0::INSTR) or 'emulator'"),
    Field("visa_library", str, "-", "PyVISA backend", default="@py"),
    Field("timeout_s", float, "s", "longest wait for one answer", default=2.0, min=0.05, max=60.0),
    Field("can_source", bool, "-", "charge on regen steps (a two-quadrant instrument); default: the model's", default=None),
    Field("clock", str, "-", "wall: time runs (hardware); host: an emulator advanced by the host", default="wall",
          choices=("wall", "host")),
    Field("error_check_steps", int, "steps", "query SYSTem:ERRor? every N steps", default=100, min=1),
)
BMS_FIELDS = (
    Field("protocol", str, "-", "jbd, daly or can (hil/lab/bms_*.py)"),
    Field("port", str, "-", "serial port or pyserial URL (jbd, daly; can with slcan), or 'emulator'"),
    Field("baudrate", int, "bit/s", "UART rate", default=9600, min=300, max=4_000_000),
    Field("timeout_s", float, "s", "longest wait for one answer", default=1.0, min=0.01, max=60.0),
    Field("retries", int, "-", "tries per read before the BMS link counts as lost", default=3, min=1, max=100),
    Field("can_interface", str, "-", "python-can interface (slcan, socketcan, virtual, ...)", default="slcan"),
    Field("can_channel", str, "-", "python-can channel; default: bms.port", default=""),
    Field("can_bitrate", int, "bit/s", "CAN bit rate", default=500000, min=10000, max=1_000_000),
    Field("dbc", str, "-", "DBC file of the BMS broadcast (a path, or a bundled configs/lab/ file)", default="kei_bms.dbc"),
    Field("cells_every_steps", int, "steps", "log every cell's voltage every N steps (a `cells` event)", default=60,
          min=1),
)
LIMIT_FIELDS = (
    Field("max_discharge_a", float, "A", "largest discharge current the host commands", min=0.0),
    Field("max_charge_a", float, "A", "largest charge current the host commands", min=0.0),
    Field("min_pack_v", float, "V", "measured pack voltage below this ends the run", min=0.0),
    Field("max_pack_v", float, "V", "measured pack voltage above this ends the run", min=0.0),
    Field("min_cell_v", float, "V", "a reported cell below this ends the run", min=0.0),
    Field("max_cell_v", float, "V", "a reported cell above this ends the run", min=0.0),
    Field("max_temp_c", float, "C", "a reported temperature above this ends the run"),
    Field("max_step_change_a", float, "A", "largest change of the setpoint from one step to the next", min=0.0),
    Field("current_tolerance_a", float, "A", "measured current this far from the setpoint ends the run", min=0.0),
)
SAFETY_FIELDS = (
    Field("safe_off_timeout_s", float, "s", "keep trying to switch the output off this long (reconnecting)",
          default=10.0, min=0.1, max=600.0),
    Field("retry_interval_s", float, "s", "between those tries", default=0.25, min=0.01, max=60.0),
    Field("guard", bool, "-", "a guard process switches the output off if the host dies", default=True),
    Field("guard_poll_s", float, "s", "how often the guard looks at the host", default=0.05, min=0.005, max=10.0),
)
EMULATOR_FIELDS = (
    Field("clock", str, "-", "host (CI: the host advances time) or wall", default="host", choices=("host", "wall")),
    Field("time_scale", float, "-", "wall clock: emulated seconds per wall second", default=1.0, min=1e-3, max=1e6),
    Field("scpi_latency_ms", float, "ms", "answer each SCPI message this much later", default=0.0, min=0.0, max=1000.0),
    Field("bms_baud", int, "bit/s", "pace the BMS line like a UART (0: unpaced)", default=0, min=0),
    Field("idle_exit_s", float, "s", "the emulator exits after this long without a byte", default=600.0, min=0.0),
    Field("start_timeout_s", float, "s", "wait for the emulator's LAB line", default=20.0, min=0.5, max=600.0),
    Field("fault", str, "-", "fault spec for the emulator (docs/lab.md)", default=""),
)
SECTIONS = {"instrument": INSTRUMENT_FIELDS, "bms": BMS_FIELDS, "limits": LIMIT_FIELDS}
OPTIONAL_SECTIONS = {"safety": SAFETY_FIELDS, "emulator": EMULATOR_FIELDS}


@dataclass(frozen=True)
class InstrumentSettings:
    model: str
    resource: str
    visa_library: str
    timeout_s: float
    can_source: bool | None
    clock: str
    error_check_steps: int


@dataclass(frozen=True)
class BmsSettings:
    protocol: str
    port: str
    baudrate: int
    timeout_s: float
    retries: int
    can_interface: str
    can_channel: str
    can_bitrate: int
    dbc: str
    cells_every_steps: int


@dataclass(frozen=True)
class Limits:
    max_discharge_a: float
    max_charge_a: float
    min_pack_v: float
    max_pack_v: float
    min_cell_v: float
    max_cell_v: float
    max_temp_c: float
    max_step_change_a: float
    current_tolerance_a: float


@dataclass(frozen=True)
class SafetySettings:
    safe_off_timeout_s: float
    retry_interval_s: float
    guard: bool
    guard_poll_s: float


@dataclass(frozen=True)
class EmulatorSettings:
    clock: str
    time_scale: float
    scpi_latency_ms: float
    bms_baud: int
    idle_exit_s: float
    start_timeout_s: float
    fault: str


@dataclass(frozen=True)
class LabConfig:
    instrument: InstrumentSettings
    bms: BmsSettings
    limits: Limits
    session: SessionSettings
    safety: SafetySettings
    emulator: EmulatorSettings
    log: LogSettings
    source: str = ""

    @property
    def emulated(self) -> bool:
        return self.instrument.resource == EMULATOR

    @property
    def clock(self) -> str:
        return self.emulator.clock if self.emulated else self.instrument.clock

    def as_dict(self) -> dict:
        return {k: asdict(getattr(self, k)) for k in ("instrument", "bms", "limits", "session", "safety", "emulator", "log")}


def is_lab_config(path: str | Path | None) -> bool:
    """True for a bench config that describes a lab bench (it has an [instrument] table)."""
    if path is None:
        return False
    return isinstance(read_toml(path).get("instrument"), dict)


def dbc_path(settings: BmsSettings, file: str) -> Path:
    """The DBC: a path, or a file of the bundled / lab configs/lab/ folder."""
    p = Path(settings.dbc).expanduser()
    if not p.is_absolute() and not p.exists():
        p = config_file(f"lab/{settings.dbc}")
    if not p.is_file():
        raise ConfigError(file, "bms.dbc", f"DBC file {settings.dbc!r} not found")
    return p


def lab_config_from_dict(raw: dict, file: str) -> LabConfig:
    from kei.hil.lab.bms_clients import BMS_PROTOCOLS
    from kei.hil.lab.scpi_models import SCPI_MODELS

    known = list(SECTIONS) + list(OPTIONAL_SECTIONS) + ["session", "log"]
    for key in raw:
        if key not in known:
            raise ConfigError(file, key, f"unknown section (known: {', '.join(known)})")
    tables = {}
    for name, fields in {**SECTIONS, **OPTIONAL_SECTIONS}.items():
        if name not in raw and name in SECTIONS:
            raise ConfigError(file, name, "missing required section")
        tables[name] = validate_table(raw.get(name, {}), fields, file=file, where=name)
    if tables["instrument"]["model"] not in SCPI_MODELS:
        raise ConfigError(file, "instrument.model", f"unknown model {tables['instrument']['model']!r} "
                          f"(known: {', '.join(SCPI_MODELS)})")
    if tables["bms"]["protocol"] not in BMS_PROTOCOLS:
        raise ConfigError(file, "bms.protocol", f"unknown protocol {tables['bms']['protocol']!r} "
                          f"(known: {', '.join(BMS_PROTOCOLS)})")
    if (tables["instrument"]["resource"] == EMULATOR) != (tables["bms"]["port"] == EMULATOR):
        raise ConfigError(file, "bms.port", "the emulated bench is one process: instrument.resource and bms.port "
                          "are both 'emulator' or neither")
    lim = tables["limits"]
    for lo, hi in (("min_pack_v", "max_pack_v"), ("min_cell_v", "max_cell_v")):
        if lim[lo] >= lim[hi]:
            raise ConfigError(file, f"limits.{lo}", f"must be below limits.{hi}")
    # [session] and [log] default to the emulated bench's (configs/bench.toml): one pacing and one
    # durability rule for every bench, overridable per lab
    bench = load_bench_config(bench_config_file())
    inherited = {}
    for name, fields, defaults in (("session", SESSION_FIELDS, asdict(bench.session)),
                                   ("log", LOG_FIELDS, asdict(bench.log))):
        inherited[name] = {**defaults, **validate_table(raw.get(name, {}), fields, file=file, where=name,
                                                        defaults=defaults)}
    return LabConfig(InstrumentSettings(**tables["instrument"]), BmsSettings(**tables["bms"]), Limits(**lim),
                     SessionSettings(**inherited["session"]), SafetySettings(**tables["safety"]),
                     EmulatorSettings(**tables["emulator"]), LogSettings(**inherited["log"]), source=file)


def load_lab_config(path: str | Path) -> LabConfig:
    return lab_config_from_dict(read_toml(path), str(path))
