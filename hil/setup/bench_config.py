"""The bench host's settings (`configs/bench.toml`): schema, load, defaults. Reasons live in the file."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from kei.errors import ConfigError
from kei.resources import config_file
from kei.schema import Field, read_toml, validate_sections


def bench_config_file() -> Path:
    """configs/bench.toml: the lab's (--configs) or the bundled one."""
    return config_file("bench.toml")


SESSION_FIELDS = (
    Field("window_steps", int, "steps", "steps in flight at most (min with the device's window)", min=1, max=255),
    Field("limit_lag_steps", int, "steps", "step k is planned with the limits reported by step k - lag", min=1, max=1000),
    Field("close_loop_soc", float, "-", "below this SOC estimate the host plans with close_loop_lag_steps", min=0.0, max=1.0),
    Field("derating_fraction", float, "-", "allowed discharge below this share of the maximum = derating", min=0.0, max=1.0),
    Field("close_loop_lag_steps", int, "steps", "lag near empty or while the BMS derates", min=1, max=1000),
    Field("limit_margin", float, "-", "share of the allowed currents the host plans to use", min=0.5, max=1.0),
    Field("soc_floor", float, "-", "the run ends when the SOC estimate reaches this", min=-0.5, max=0.9),
    Field("limp_speed_kmh", float, "km/h", "slowest useful cruise speed", min=1.0, max=200.0),
    Field("stranded_time_s", float, "s", "derated below the limp-speed power this long ends the run", min=0.0, max=3600.0),
    Field("max_cycles", int, "-", "safety stop after this many cycle repetitions", min=1),
)
LINK_FIELDS = (
    Field("baudrate", int, "bit/s", "UART rate (ignored by ptys and TCP)", min=300, max=10_000_000),
    Field("answer_timeout_s", float, "s", "longest wait for an answer (plus the window's line time)", min=0.01, max=60),
    Field("min_answer_timeout_s", float, "s", "floor of the adaptive answer timeout", min=0.001, max=60),
    Field("dead_link_s", float, "s", "no progress this long: the link is dead", min=0.1, max=3600),
    Field("duplicate_above_loss", float, "-", "resent share of frames above which lone steps go out twice", min=0.0, max=1.0),
    Field("hello_retries", int, "-", "HELLO tries", min=1, max=1000),
    Field("request_retries", int, "-", "tries for other requests", min=1, max=1000),
    Field("reconnect_interval_s", float, "s", "retry period while a lost port comes back", min=0.01, max=60),
    Field("reconnect_timeout_s", float, "s", "give up on a lost port after this", min=0.0, max=86400),
    Field("write_timeout_s", float, "s", "a write blocked this long is an error", min=0.1, max=600),
    Field("nack_resends_without_progress", int, "-", "NACK OUT_OF_ORDER answers resent between two logged steps; "
          "beyond, the device is asked what it holds and restored", min=1, max=100_000),
    Field("bad_answer_limit", int, "-", "the same step answered this often with an unbelievable TELEMETRY: a device "
          "fault", min=1, max=1000),
    Field("recoveries_without_progress", int, "-", "reconnects, restarts and restores in a row without a step "
          "logged before the session gives up", min=1, max=1000),
    Field("stop_on_abort_tries", int, "-", "STOP tries (answer_timeout_s each) when a session stops early", min=1,
          max=100),
)
EMULATOR_FIELDS = (
    Field("start_timeout_s", float, "s", "wait for the device process's PORT line", min=0.5, max=600),
    Field("stop_timeout_s", float, "s", "SIGTERM grace before SIGKILL", min=0.1, max=600),
    Field("idle_exit_s", float, "s", "device exits after this long without a byte (0 = never)", min=0.0),
)
LOG_FIELDS = (
    Field("sync_interval_s", float, "s", "fsync the log at least this often (and after every event)", min=0.0, max=60),
)
SECTIONS = {"session": SESSION_FIELDS, "link": LINK_FIELDS, "emulator": EMULATOR_FIELDS, "log": LOG_FIELDS}


@dataclass(frozen=True)
class SessionSettings:
    window_steps: int
    limit_lag_steps: int
    close_loop_soc: float
    derating_fraction: float
    close_loop_lag_steps: int
    limit_margin: float
    soc_floor: float
    limp_speed_kmh: float
    stranded_time_s: float
    max_cycles: int


@dataclass(frozen=True)
class LinkSettings:
    baudrate: int
    answer_timeout_s: float
    min_answer_timeout_s: float
    dead_link_s: float
    duplicate_above_loss: float
    hello_retries: int
    request_retries: int
    reconnect_interval_s: float
    reconnect_timeout_s: float
    write_timeout_s: float
    nack_resends_without_progress: int
    bad_answer_limit: int
    recoveries_without_progress: int
    stop_on_abort_tries: int


@dataclass(frozen=True)
class LogSettings:
    sync_interval_s: float


@dataclass(frozen=True)
class EmulatorSettings:
    start_timeout_s: float
    stop_timeout_s: float
    idle_exit_s: float


@dataclass(frozen=True)
class BenchConfig:
    session: SessionSettings
    link: LinkSettings
    emulator: EmulatorSettings
    log: LogSettings
    source: str = ""
    filled_in: tuple[str, ...] = ()   # keys the file lacked, taken from the bundled bench.toml

    def as_dict(self) -> dict:
        return {"session": asdict(self.session), "link": asdict(self.link), "emulator": asdict(self.emulator),
                "log": asdict(self.log)}


def _fill_missing(raw: dict, fallback: dict) -> tuple[dict, tuple[str, ...]]:
    """`raw` with the keys it lacks taken from `fallback`: a session log's copy of an older bench.toml
    keeps every value it had and gains the settings added since, from the bundled file."""
    out, filled = dict(raw), []
    for name, table in fallback.items():
        have = out.get(name, {})
        if name not in SECTIONS or not isinstance(table, dict) or not isinstance(have, dict):
            continue  # validation names whatever is wrong
        merged = dict(have)
        for key, value in table.items():
            if key not in merged:
                merged[key] = value
                filled.append(f"{name}.{key}")
        out[name] = merged
    return out, tuple(filled)


def bench_config_from_dict(raw: dict, file: str, fallback: dict | None = None) -> BenchConfig:
    filled: tuple[str, ...] = ()
    if fallback is not None:
        raw, filled = _fill_missing(raw, fallback)
    tables = validate_sections(raw, SECTIONS, file=file)
    session = SessionSettings(**tables["session"])
    if session.limit_lag_steps < session.window_steps:
        raise ConfigError(file, "session.limit_lag_steps", "must be >= session.window_steps, or the limits "
                          "a step is planned with may not have arrived when it is sent")
    if session.close_loop_lag_steps > session.limit_lag_steps:
        raise ConfigError(file, "session.close_loop_lag_steps", "must be <= session.limit_lag_steps")
    return BenchConfig(session, LinkSettings(**tables["link"]), EmulatorSettings(**tables["emulator"]),
                       LogSettings(**tables["log"]), source=file, filled_in=filled)


def load_bench_config(path: str | Path | None = None, *, complete: bool = False) -> BenchConfig:
    """The bench settings in `path` (default: the bundled or the lab's bench.toml). `complete`: keys
    the file lacks come from the bundled file (a session log written before they existed)."""
    path = path if path is not None else bench_config_file()
    fallback = read_toml(bench_config_file()) if complete else None
    return bench_config_from_dict(read_toml(path), str(path), fallback)
