"""Benchmark of the study executors: points per second of the headline Monte Carlo workload
(us_kei_15k samples of the uncertain inputs: floor price, and where it is under the cap a verified
max-range solve) serial, on the process pool with 1 and 2 workers, and on a local Ray with 2 workers,
in one run, as rates and ratios against each other.

    python3 bench/study.py                  # ~2-4 min: 3 repeats of 400 points per executor
    python3 bench/study.py --full           # and the must-show run: kei study montecarlo us_kei_15k --samples 10000

Each executor is started, warmed up on other samples (workers import kei and parse the inputs once),
then timed on the same points; its start-up is reported apart. Every executor must return identical
rows (checked). Repeats interleave the executors, so a change in the machine's load hits all of
them; the load average is printed before and after: on a shared machine the ratios are what to read.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing, like the tests

from kei.optimizer.studies.executors import open_executor  # noqa: E402
from kei.optimizer.studies.montecarlo import question_for  # noqa: E402
from kei.optimizer.studies.points import Point, Task, evaluate_batch  # noqa: E402
from kei.optimizer.studies.settings import load_study_settings  # noqa: E402
from kei.optimizer.studies.sources import PointInputs, record_inputs  # noqa: E402
from kei.optimizer.studies.uncertain import load_uncertain_inputs, sample_values  # noqa: E402

PROBLEM = "us_kei_15k"
EXECUTORS = (("serial", 1), ("pool", 1), ("pool", 2), ("ray", 2))


def points(seed: int, n: int, question: str) -> list[Point]:
    inputs = load_uncertain_inputs()
    return [Point(i, question, tuple(x.override(v) for x, v in zip(inputs, sample_values(inputs, seed, i))))
            for i in range(n)]


def batches(pts: list[Point], workers: int, per_task: int) -> list[list[Point]]:
    size = max(1, min(per_task, math.ceil(len(pts) / (workers * 4))))   # as the study runner batches
    return [pts[i:i + size] for i in range(0, len(pts), size)]


def evaluate_timed(task, batch):
    """evaluate_batch, and the CPU time the worker spent on it (not counting time the machine's other
    processes took from it: a measure of the work that does not depend on the load)."""
    cpu = time.process_time()
    rows = evaluate_batch(task, batch)
    return rows, time.process_time() - cpu


def timed(executor, task, pts, workers, per_task) -> tuple[float, list[dict], float]:
    """Wall seconds, the rows in point order, worker CPU seconds."""
    start = time.perf_counter()
    rows, cpu = [], 0.0
    for batch_rows, seconds in executor.run(evaluate_timed, task, batches(pts, workers, per_task)):
        rows += batch_rows
        cpu += seconds
    return time.perf_counter() - start, sorted(rows, key=lambda r: r["i"]), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=400, help="timed points per executor and repeat")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="also time kei study montecarlo --samples 10000")
    parser.add_argument("--no-ray", action="store_true", help="skip Ray (when the extra is not installed)")
    args = parser.parse_args()

    settings = load_study_settings()
    inputs = record_inputs(PROBLEM)
    with PointInputs(inputs).serve(()) as (problem, _):
        question = question_for(problem)
    task = Task(inputs=inputs, floor_engine=settings.floor_engine, key="bench")
    warm, timed_points = points(101, 64, question), points(202, args.points, question)
    kinds = [k for k in EXECUTORS if not (args.no_ray and k[0] == "ray")]
    print(f"{PROBLEM}: {args.points} Monte Carlo points ({question}, floor by {settings.floor_engine}) per executor, "
          f"{args.repeat} repeats; {os.cpu_count()} cores; load average before {os.getloadavg()[0]:.2f}")
    rates: dict[tuple, list[float]] = {k: [] for k in kinds}
    startup: dict[tuple, list[float]] = {k: [] for k in kinds}
    cpu_ms: dict[tuple, list[float]] = {k: [] for k in kinds}
    busy: dict[tuple, list[float]] = {k: [] for k in kinds}
    reference = None
    for rep in range(args.repeat):
        for name, workers in kinds:
            t = time.perf_counter()
            executor = open_executor(name, workers=workers)
            try:
                timed(executor, task, warm[: 16 * workers], workers, settings.max_points_per_task)
                startup[(name, workers)].append(time.perf_counter() - t)
                seconds, rows, cpu = timed(executor, task, timed_points, workers, settings.max_points_per_task)
            finally:
                executor.close()
            if reference is None:
                reference = rows
            elif rows != reference:
                print(f"  {name} x{workers}: rows differ from the first executor's", file=sys.stderr)
                return 1
            rates[(name, workers)].append(args.points / seconds)
            cpu_ms[(name, workers)].append(1000 * cpu / args.points)
            busy[(name, workers)].append(cpu / (seconds * workers))
            print(f"  repeat {rep + 1}: {name:<6} x{workers}  {args.points / seconds:7.1f} points/s, worker CPU "
                  f"{cpu_ms[(name, workers)][-1]:.1f} ms/point, workers busy {busy[(name, workers)][-1]:.0%} of the wall "
                  f"time (start-up and warm-up {startup[(name, workers)][-1]:.1f} s)", flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    feasible = sum(1 for r in reference if r["result"].get("feasible"))
    print(f"\nmedian points/s ({feasible} of {args.points} points have a design at the cap, so a max-range solve):")
    for (name, workers), rate in med.items():
        print(f"  {name:<6} x{workers}  {rate:7.1f} points/s  (worker CPU {statistics.median(cpu_ms[(name, workers)]):.1f} "
              f"ms/point; workers had the CPU {statistics.median(busy[(name, workers)]):.0%} of the wall time)")
    print("On a machine where nothing else runs the workers are busy ~100 % of the time; where they are not, the "
          "rates measure the machine's load, and the CPU per point is what compares.")
    print(f"ratios: pool x2 / pool x1 = {med[('pool', 2)] / med[('pool', 1)]:.2f} (aim >= 1.8); "
          f"pool x1 / serial = {med[('pool', 1)] / med[('serial', 1)]:.2f}", end="")
    if ("ray", 2) in med:
        print(f"; ray x2 / pool x2 = {med[('ray', 2)] / med[('pool', 2)]:.2f} (aim >= 0.8)")
    else:
        print()
    per_repeat = [a / b for a, b in zip(rates[("pool", 2)], rates[("pool", 1)])]
    print(f"pool x2 / x1 per repeat: {', '.join(f'{r:.2f}' for r in per_repeat)}; "
          f"load average after {os.getloadavg()[0]:.2f}")
    if args.full:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "mc.jsonl"
            t = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "kei", "study", "montecarlo", PROBLEM, "--samples", "10000",
                                   "--seed", "1", "--out", str(out), "--no-progress"], capture_output=True, text=True)
            wall = time.perf_counter() - t
        print(f"\nkei study montecarlo {PROBLEM} --samples 10000 --seed 1 (pool, all cores): {wall:.0f} s wall "
              f"(goal < 300 s), exit {done.returncode}")
        print("\n".join("  " + line for line in done.stdout.splitlines()[:3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
