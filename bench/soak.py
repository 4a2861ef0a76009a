"""The bench's soak tier (issue 15): what the default test suite checks once, here many times, on both
device kinds, with real `kei` processes killed at random. Not part of `python3 -m pytest` (minutes,
not seconds). Every run is compared with a clean run of the same design in this script:

  1. link faults: BER 1e-3, byte drops 1e-3 and two disconnects (the port closed under the host),
     on the Python emulator and the C stub: the same range, bit for bit;
  2. kills: `kei hil run`, then `kei hil resume` again and again, with the host, the device or both
     killed by SIGKILL at a random row (`--kills` in all, per device kind), until the run finishes;
  3. a log cut at a random byte: the host killed, steps.csv cut at a random byte of its last rows and
     4 KiB of zero bytes appended (what a power cut leaves), events.jsonl cut too, then resumed; and
     the whole machine "losing power" (host and device killed) with steps.csv cut at a random byte
     anywhere, resumed onto a fresh device.

After every run: every step logged exactly once (read_log refuses gaps and repeats), the device's
own step counter equal to the host's step on every row (no step applied twice or skipped), every
complete row that was in the log before a cut still there byte for byte, and the range: identical
to the clean run, bit for bit, wherever the device kept its state; after a restore (the device lost
its RC voltages and debounce timers, docs/hil.md) within RESTORE_STEPS of the clean cutoff, the
difference printed. Exit status 1 if any check fails.

    python3 bench/soak.py [--kills 20] [--seed 1] [--devices python,firmware] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kei.hil.log.session_log import read_log  # noqa: E402

HEADLINE = ROOT / "configs" / "designs" / "us_kei_15k.toml"
DESIGN = HEADLINE if HEADLINE.exists() else ROOT / "configs" / "designs" / "us_kei_150km.toml"
CYCLE = "epa_combined"
LINK_FAULTS = "ber=1e-3,drop=1e-3,disconnect@4000,disconnect=2@11000,seed={seed}"
KILL_PACE = "x5000"    # ~3.5 s of wall time for the whole run: room to kill it anywhere
ZEROS = 4096           # a power cut's leftover at the end of a file
CUT_LAST_ROWS = 16     # "its last rows": within one window of the end
# A restore restarts the device's RC voltages and debounce timers (CONFIGURE carries neither): a
# restore during the under-voltage debounce (2 s) moves the cutoff by up to two steps (~22 m each
# at highway speed). Exact equality is checked wherever the device kept its state.
RESTORE_STEPS = 2
RESTORE_TOLERANCE_M = 50.0
FAILURES: list[str] = []


def kei(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kei", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def kei_json(*args, timeout=600) -> dict:
    out = kei(*args, "--json", timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"kei {' '.join(map(str, args))} exited {out.returncode}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


def check(ok: bool, what: str) -> bool:
    if not ok:
        FAILURES.append(what)
        print(f"    FAIL: {what}")
    return ok


def rows_in(log_dir: Path) -> int:
    try:
        return (log_dir / "steps.csv").read_bytes().count(b"\n") - 1
    except FileNotFoundError:
        return 0


def device_pids(log_dir: Path) -> list[int]:
    try:
        return [e["pid"] for e in read_log(log_dir, load_steps=False).events if e.get("event") == "device_started"]
    except Exception:  # noqa: BLE001 (the log may not exist yet)
        return []


def kill_devices(log_dir: Path) -> None:
    for pid in device_pids(log_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def verify(log_dir: Path, result: dict, clean: dict, label: str, kept: bytes = b"") -> dict:
    """The log is complete and consistent; the range against the clean run. Returns the figures."""
    log = read_log(log_dir)
    steps = log.columns["step"]
    complete = check(int(steps[0]) == 0 and log.last_step == result["steps"] == log.rows - 1,
                     f"{label}: steps 0..{result['steps']} logged exactly once")
    counted = check(bool((log.columns["step_count"] == steps).all()),
                    f"{label}: the device's step counter equals the host's step on every row")
    if kept:
        check((log_dir / "steps.csv").read_bytes().startswith(kept), f"{label}: every complete row before the cut kept")
    restores = result["device_restores"]
    delta_m = 1000.0 * (result["distance_km"] - clean["distance_km"])
    delta_steps = result["steps"] - clean["steps"]
    same_end = result["cutoff_reason"] == clean["cutoff_reason"]
    if restores == 0:
        check(same_end and delta_steps == 0 and delta_m == 0.0,
              f"{label}: range identical to the clean run ({delta_m:+.6f} m, {delta_steps:+d} steps)")
    else:  # the RC voltages and debounce timers a restore cannot carry (docs/hil.md "Guarantees")
        check(same_end and abs(delta_steps) <= RESTORE_STEPS and abs(delta_m) <= RESTORE_TOLERANCE_M,
              f"{label}: after {restores} restore(s), within {RESTORE_STEPS} steps and {RESTORE_TOLERANCE_M:g} m of "
              f"the clean run ({delta_m:+.4f} m, {delta_steps:+d} steps)")
    return {"label": label, "delta_m": delta_m, "delta_steps": delta_steps, "restores": restores, "reconnects": result["reconnects"],
            "steps": result["steps"], "lost_or_doubled": 0 if complete and counted else "CHECK FAILED",
            "retried": result["frames_retried"], "crc": result["crc_errors"], "elapsed_s": result["elapsed_s"]}


def start_run(log_dir: Path, device: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kei", "hil", "run", str(DESIGN), "--cycle", CYCLE, "--emulator",
                             device, "--log", str(log_dir), "--pace", KILL_PACE, "--json"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_resume(log_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kei", "hil", "resume", str(log_dir), "--json"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_at_row(proc: subprocess.Popen, log_dir: Path, row: int, timeout_s: float = 120.0) -> bool:
    """Wait for `row` rows, then SIGKILL the host; False if the run ended first."""
    deadline = time.monotonic() + timeout_s
    while rows_in(log_dir) < row:
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            raise RuntimeError(f"{log_dir}: no row {row} within {timeout_s} s")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return True


def finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"exited {proc.returncode}:\n{err[-3000:]}")
    return json.loads(out)


def kills(tmp: Path, device: str, clean: dict, n: int, rng: random.Random) -> tuple[dict, dict]:
    log_dir = tmp / f"kills_{device}"
    total = clean["steps"]
    victims = {"host": 0, "device": 0, "both": 0}
    order = [("host", "device", "both")[i % 3] for i in range(n)]  # a third each, in random order
    rng.shuffle(order)
    proc = start_run(log_dir, device)
    done = 0
    while True:
        if done < n:
            target = rows_in(log_dir) + rng.randint(50, max(60, total // (n + 1)))
            victim = order[done]
            if target < total - 20:
                if victim == "device":  # the device dies under a running host: it restores on its own
                    while rows_in(log_dir) < target and proc.poll() is None:
                        time.sleep(0.005)
                    if proc.poll() is None:
                        kill_devices(log_dir)
                        victims["device"] += 1
                        done += 1
                        continue
                elif kill_at_row(proc, log_dir, target):
                    if victim == "both":
                        kill_devices(log_dir)
                    victims[victim] += 1
                    done += 1
                    proc = start_resume(log_dir)
                    continue
        result = finish(proc)
        break
    return verify(log_dir, result, clean, f"{device}: {done} kills ({victims})"), victims


def cut_log(tmp: Path, device: str, clean: dict, rng: random.Random, power_cut: bool) -> dict:
    """Host killed; steps.csv cut at a random byte (of its last rows, or anywhere for a power cut of the
    whole machine, device included) plus 4 KiB of zeros; events.jsonl cut too; then resumed."""
    log_dir = tmp / f"cut_{device}_{'power' if power_cut else 'host'}"
    proc = start_run(log_dir, device)
    kill_at_row(proc, log_dir, rng.randint(1000, clean["steps"] - 1000))
    if power_cut:
        kill_devices(log_dir)
    steps = (log_dir / "steps.csv").read_bytes()
    ends = [i + 1 for i, b in enumerate(steps) if b == 10]
    first = ends[0] if power_cut else ends[max(0, len(ends) - 1 - CUT_LAST_ROWS)]
    cut = rng.randint(first, len(steps))
    kept = steps[:max(e for e in ends if e <= cut)]
    (log_dir / "steps.csv").write_bytes(steps[:cut] + b"\x00" * ZEROS)
    events = (log_dir / "events.jsonl").read_bytes()
    (log_dir / "events.jsonl").write_bytes(events[:rng.randint(len(events) // 2, len(events))] + b"\x00" * ZEROS)
    result = finish(start_resume(log_dir))
    lost = steps.count(b"\n") - kept.count(b"\n")
    label = (f"{device}: {'power cut (host and device), ' if power_cut else 'host killed, '}steps.csv cut at byte "
             f"{cut:,} of {len(steps):,} (+{ZEROS} zero bytes): {lost} row(s) cut")
    return verify(log_dir, result, clean, label, kept)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20, help="random SIGKILLs per device kind (default 20)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--devices", default="python,firmware")
    p.add_argument("--keep", metavar="DIR", help="keep the logs here (default: a temporary folder)")
    args = p.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(args.keep) if args.keep else Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        figures = []
        print(f"bench/soak.py: {DESIGN.name} on {CYCLE}, devices {args.devices}, seed {args.seed} "
              f"(shared 2-core machine)")
        for device in args.devices.split(","):
            try:
                clean = kei_json("hil", "run", DESIGN, "--cycle", CYCLE, "--emulator", device, "--log",
                                 tmp / f"clean_{device}")
                print(f"\n{device}: clean run {clean['distance_km']!r} km, {clean['steps']} steps, "
                      f"{clean['cutoff_reason']}")
                faulty = kei_json("hil", "run", DESIGN, "--cycle", CYCLE, "--emulator", device, "--log",
                                  tmp / f"faults_{device}", "--inject", LINK_FAULTS.format(seed=args.seed))
                check(faulty["reconnects"] >= 2 and faulty["injected"]["disconnects"] == 2,
                      f"{device}: two disconnects ridden out ({faulty['reconnects']} reconnects)")
                figures.append(verify(tmp / f"faults_{device}", faulty, clean,
                                      f"{device}: {LINK_FAULTS.format(seed=args.seed)}") | {
                                          "injected": faulty["injected"]})
                figure, _ = kills(tmp, device, clean, args.kills, rng)
                figures.append(figure)
                figures.append(cut_log(tmp, device, clean, rng, power_cut=False))
                figures.append(cut_log(tmp, device, clean, rng, power_cut=True))
            finally:
                for d in tmp.glob(f"*_{device}*"):
                    kill_devices(d)
        print("\nresults (range against the clean run of the same device):")
        for f in figures:
            print(f"  {f['label']}")
            print(f"      range {f['delta_m']:+.6f} m ({f['delta_steps']:+d} steps), {f['steps']} steps, steps lost or "
                  f"doubled: {f['lost_or_doubled']}, "
                  f"{f['restores']} restores, {f['reconnects']} reconnects, {f['retried']} frames resent, "
                  f"{f['crc']} CRC errors" + (f", injected {f['injected']}" if f.get("injected") else ""))
        print(f"\n{len(figures)} soak runs in {time.monotonic() - started:.0f} s: "
              + ("all checks passed" if not FAILURES else f"{len(FAILURES)} FAILED"))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
