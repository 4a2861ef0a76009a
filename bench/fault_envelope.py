"""The bench's fault envelope: at which bit error, byte drop and pause rates a full session still
completes, and whether it still measures the clean run's range bit for bit. Baseline, in the same
process: the clean run of the same design on the same device (its wall time and range).

Each condition is a full `kei hil run` (a real host process and a real device process over a pty,
`--inject SPEC`, docs/hil.md) given `--limit-s` of wall time; the table gives: completed or not (and
how it ended), the range against the clean run, the wall time against the clean run's, frames resent
and CRC errors. The pauses straddle `[link] dead_link_s` (20 s): shorter ones are ridden out, longer
ones end the session with the resume command.

    python3 bench/fault_envelope.py [--device python|firmware] [--limit-s 300] [--quick | --only SPEC ...]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ROOT / "configs" / "designs" / "us_kei_15k.toml"
DESIGN = HEADLINE if HEADLINE.exists() else ROOT / "configs" / "designs" / "us_kei_150km.toml"
CYCLE = "epa_combined"
CONDITIONS = (
    "ber=1e-5", "ber=1e-4", "ber=1e-3", "ber=3e-3", "ber=1e-2",
    "drop=1e-4", "drop=1e-3", "drop=1e-2", "drop=3e-2", "drop=1e-1",
    "garbage=0.01:32", "garbage=0.05:64",
    "ber=1e-3,drop=1e-3,garbage=0.002:32",
    "pause=5@3000", "pause=15@3000", "pause=5@3000,pause=5@6000,pause=5@9000,pause=5@12000", "pause=25@3000",
    "disconnect=5@3000", "disconnect=25@3000", "disconnect=40@3000",
)
QUICK = ("ber=1e-3", "ber=1e-2", "drop=1e-2", "pause=15@3000", "pause=25@3000")


def run(log_dir: Path, device: str, inject: str | None, limit_s: float) -> tuple[dict | None, str, float]:
    cmd = [sys.executable, "-m", "kei", "hil", "run", str(DESIGN), "--cycle", CYCLE, "--emulator", device,
           "--log", str(log_dir), "--json"] + (["--inject", inject] if inject else [])
    start = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s, cwd=ROOT)
    except subprocess.TimeoutExpired:
        rows = max(0, (log_dir / "steps.csv").read_bytes().count(b"\n") - 2)
        return None, f"not finished in {limit_s:g} s ({rows:,} steps logged, {rows / limit_s:.0f}/s)", limit_s
    took = time.monotonic() - start
    if out.returncode != 0:
        last = out.stderr.strip().splitlines()[0] if out.stderr.strip() else f"exit {out.returncode}"
        return None, f"exit {out.returncode}: {last[:110]}", took
    return json.loads(out.stdout), "completed", took


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="python", choices=("python", "firmware"))
    p.add_argument("--limit-s", type=float, default=300.0, help="wall time a run may take (default 300 s)")
    p.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    p.add_argument("--only", nargs="+", metavar="SPEC", help="these --inject specs instead")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clean, _, clean_s = run(tmp / "clean", args.device, None, args.limit_s)
        print(f"bench/fault_envelope.py: {DESIGN.name} on {CYCLE}, {args.device} emulator over a pty "
              f"(shared 2-core machine)")
        print(f"baseline: clean run {clean['distance_km']!r} km, {clean['steps']} steps, {clean_s:.1f} s wall\n")
        print(f"{'--inject':<48} {'outcome':<34} {'range vs clean':>15} {'wall':>7} {'resent':>8} {'crc':>7}")
        for i, spec in enumerate(args.only or (QUICK if args.quick else CONDITIONS)):
            result, outcome, took = run(tmp / f"c{i}", args.device, spec + ",seed=1", args.limit_s)
            if result is None:
                print(f"{spec:<48} {outcome[:70]}")
                continue
            delta_m = 1000.0 * (result["distance_km"] - clean["distance_km"])
            same = "identical" if delta_m == 0.0 and result["steps"] == clean["steps"] else f"{delta_m:+.4f} m"
            print(f"{spec:<48} {outcome:<34} {same:>15} {took / clean_s:6.1f}x {result['frames_retried']:>8} "
                  f"{result['crc_errors']:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
