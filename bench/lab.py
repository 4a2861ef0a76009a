"""Steps per second of a lab session (docs/lab.md) against the emulated lab bench, per BMS protocol,
and the time per step spent in each backend (planning, the SCPI instrument, the BMS, the log).

Baseline, in the same process: each protocol with the emulator answering at once (no command
latency, unpaced lines: what CI runs). Then the same at the emulator's documented latencies, which
are those of a real bench (docs/lab.md, "Command latency"):
  - SCPI: 2 ms per program message (estimate: LAN instruments parse a command in 1-10 ms);
  - JBD and Daly: their UART at 9600 baud 8N1 both ways (the boards' rate, hil-references.md);
  - CAN: the slcan adapter's line at 115200 baud (a CANable's default; the CAN bus itself, 500 kbit/s,
    is faster than that line).
A real battery discharges in real time, so the figure that matters on hardware is the headroom over
1 step per second (the cycle's 1-s steps at realtime). Every run is a full session through
`kei.hil.session.runner.run_session`, as `kei hil run --bench-config` does it.

    python3 bench/lab.py [--steps N] [--baseline-steps N] [--protocols jbd,daly,can]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kei.hil.session.runner import run_session  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ROOT / "configs" / "designs" / "us_kei_15k.toml"
DESIGN = HEADLINE if HEADLINE.exists() else ROOT / "configs" / "designs" / "us_kei_150km.toml"
EMULATED = ROOT / "configs" / "lab" / "emulated.toml"
SCPI_LATENCY_MS = 2.0
UART_BAUD = {"jbd": 9600, "daly": 9600, "can": 115200}
BACKENDS = ("plan", "instrument", "bms", "log")


def config(tmp: Path, protocol: str, latency: bool) -> Path:
    raw = tomllib.loads(EMULATED.read_text())
    raw["bms"]["protocol"] = protocol
    raw["emulator"].update(scpi_latency_ms=SCPI_LATENCY_MS if latency else 0.0, bms_baud=UART_BAUD[protocol] if latency else 0)
    if latency:  # 9600 baud: a 193-byte JBD answer takes 0.2 s
        raw["bms"]["timeout_s"] = 2.0
    path = tmp / f"{protocol}_{'latency' if latency else 'fast'}.toml"
    path.write_text("\n".join(f"[{s}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in t.items()) for s, t in raw.items()))
    return path


def session(tmp: Path, protocol: str, latency: bool, steps: int) -> dict:
    log = tmp / f"log_{protocol}_{latency}"
    r = run_session(DESIGN, "wltc_jp", bench_config=config(tmp, protocol, latency), log_dir=log, max_steps=steps,
                    progress=False).result
    rate = r["steps"] / r["elapsed_s"]
    per_step = {k: 1000.0 * r["timing_s"][k] / r["steps"] for k in BACKENDS}
    rest = 1000.0 * r["elapsed_s"] / r["steps"] - sum(per_step.values())
    print(f"  {protocol:<5} {'documented latency' if latency else 'no latency':<19} {r['steps']:>5} steps "
          f"{rate:8.1f} steps/s  ms/step: " + "  ".join(f"{k} {v:6.2f}" for k, v in per_step.items())
          + f"  other {rest:5.2f}")
    return {"rate": rate, **per_step}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=60, help="steps per run at the documented latency")
    p.add_argument("--baseline-steps", type=int, default=2000, help="steps per run without latency")
    p.add_argument("--protocols", default="jbd,daly,can")
    args = p.parse_args()
    protocols = args.protocols.split(",")
    print(f"{DESIGN.name} on wltc_jp, emulated lab bench (generic SCPI source/load over TCP, BMS over a pty); "
          f"machine shared: rates are noisy, ratios within one run are the figure")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = {proto: session(tmp, proto, False, args.baseline_steps) for proto in protocols}
        slow = {proto: session(tmp, proto, True, args.steps) for proto in protocols}
    print("\nper protocol: documented latency / no latency, and headroom over realtime (1 step/s on hardware)")
    for proto in protocols:
        print(f"  {proto:<5} {slow[proto]['rate']:7.1f} / {base[proto]['rate']:7.1f} steps/s = "
              f"{slow[proto]['rate'] / base[proto]['rate']:6.4f}; realtime headroom x{slow[proto]['rate']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
