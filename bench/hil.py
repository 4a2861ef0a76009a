"""Steps per second of a whole bench session over a pty: the host, the line and a device process.

Baseline, in the same process: the same session in stop-and-wait (window 1). Then:
  1. a full-range run, pipelined (window 16), unpaced: the run's wall time (aim: < 10 s) and the
     ratio pipelined / stop-and-wait;
  2. the device pacing both directions like a full-duplex UART at 115200 baud 8N1 (`--baud-pace
     115200`: a STEP reaches the device only after its 1.39 ms on the line, a TELEMETRY the host
     after its 5.12 ms), pipelined and stop-and-wait, as a percentage of that line's theoretical
     limit (protocol.md section 5: 11,520 bytes/s / 59 bytes per TELEMETRY = 195 steps/s; aim:
     >= 80 %); stop-and-wait also against its own limit, one STEP plus one TELEMETRY per step
     (1 / 6.51 ms = 154 steps/s).
Every run drives the same design on the same cycle; the runs are full sessions (HELLO, OCV_TABLE,
CONFIGURE, steps, STOP) through `hil.runner`, as `kei hil run` does them; the rate is logged rows per
second of session time (the emulator's start-up excluded).

    python3 bench/hil.py [--emulator python|firmware] [--design FILE] [--cycle NAME] [--paced-steps N]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import tomllib
from pathlib import Path

from kei.units import BITS_PER_BYTE_8N1

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kei.hil.session.runner import run_session  # noqa: E402
from kei.hil.setup.bench_config import bench_config_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# The optimizer's headline design (the bench tests drive the same one) on its own cycle.
HEADLINE = ROOT / "configs" / "designs" / "us_kei_15k.toml"
DESIGN = HEADLINE if HEADLINE.exists() else ROOT / "configs" / "designs" / "us_kei_150km.toml"
BAUD = 115200
TELEMETRY_WIRE_BYTES = 59  # protocol.md section 5: the direction that limits a session
STEP_WIRE_BYTES = 16


def config_with_window(tmp: Path, window: int) -> Path:
    """configs/bench.toml with another window (the lag stays: every run plans the same steps)."""
    text = bench_config_file().read_text()
    current = tomllib.loads(text)["session"]["window_steps"]
    path = tmp / f"bench_w{window}.toml"
    path.write_text(text.replace(f"window_steps = {current} ", f"window_steps = {window} ", 1))
    assert tomllib.loads(path.read_text())["session"]["window_steps"] == window
    return path


def session(tmp: Path, name: str, window: int, args, baud_pace=None, max_steps=None) -> dict:
    log_dir = tmp / f"w{window}_baud{baud_pace or 0}"
    out = run_session(args.design, args.cycle, emulator=args.emulator, pace="max", log_dir=log_dir,
                      bench_config=config_with_window(tmp, window), baud_pace=baud_pace, max_steps=max_steps,
                      progress=False).result
    rate = out["steps"] / out["elapsed_s"]
    print(f"  {name:<28} {out['steps']:>6} steps in {out['elapsed_s']:6.2f} s = {rate:8.0f} steps/s  "
          f"({out['cutoff_reason']}, {out['distance_km']:.1f} km)")
    return {**out, "rate": rate}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--emulator", default="python", choices=("python", "firmware"))
    p.add_argument("--design", default=str(DESIGN))
    p.add_argument("--cycle", default="epa_combined")
    p.add_argument("--paced-steps", type=int, default=1200, help="steps of the 115200 baud runs (~6 s each)")
    args = p.parse_args()
    line_limit = BAUD / BITS_PER_BYTE_8N1 / TELEMETRY_WIRE_BYTES
    round_trip_limit = BAUD / BITS_PER_BYTE_8N1 / (STEP_WIRE_BYTES + TELEMETRY_WIRE_BYTES)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print(f"bench/hil.py: {Path(args.design).name} on {args.cycle}, {args.emulator} emulator over a pty")
        print("unpaced line, full range:")
        stop_wait = session(tmp, "stop-and-wait (window 1)", 1, args)
        piped = session(tmp, "pipelined (window 16)", 16, args)
        print(f"\nbaud-paced line ({BAUD} 8N1, both directions, full duplex; limit {line_limit:.1f} steps/s "
              f"pipelined, {round_trip_limit:.1f} stop-and-wait), {args.paced_steps} steps:")
        paced_sw = session(tmp, "stop-and-wait (window 1)", 1, args, baud_pace=BAUD, max_steps=args.paced_steps)
        paced = session(tmp, "pipelined (window 16)", 16, args, baud_pace=BAUD, max_steps=args.paced_steps)
    same = piped["distance_km"] == stop_wait["distance_km"]
    print("\nratios:")
    print(f"  pipelined / stop-and-wait, unpaced pty   {piped['rate'] / stop_wait['rate']:6.2f}")
    print(f"  pipelined / stop-and-wait, 115200 baud   {paced['rate'] / paced_sw['rate']:6.2f}")
    print(f"  achieved / theoretical at 115200 baud    {100 * paced['rate'] / line_limit:6.1f} %   (aim >= 80 %)")
    print(f"  stop-and-wait / theoretical at 115200    {100 * paced_sw['rate'] / line_limit:6.1f} %   "
          f"({100 * paced_sw['rate'] / round_trip_limit:.1f} % of its round-trip limit)")
    print(f"  full-range run, pipelined                {piped['elapsed_s']:6.2f} s   (aim < 10 s; "
          f"{piped['steps']} steps)")
    print(f"  same range with either window            {'yes' if same else 'NO'} "
          f"({piped['distance_km']:.3f} / {stop_wait['distance_km']:.3f} km)")


if __name__ == "__main__":
    main()
