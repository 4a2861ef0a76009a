"""Memory and time of `kei hil report` on a long session log (issue 15: 1.2 GB for 315,000 rows).

The log: a real session's rows (a `kei hil run --max-steps` on the Python emulator) repeated, with
their step numbers continued, to `--rows` rows. Baseline, in the same process: the same summary
with every column loaded at once (what `kei hil resume` and `--plot` need), in a child process of its
own. Printed: peak resident memory and wall time of each, and their ratio.

    python3 bench/hil_report.py [--rows 315000]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED_STEPS = 2000
LOADED = ("import sys\nfrom kei.hil.log.session_log import read_log\nfrom kei.hil.log.summary import summarize\n"
          "summarize(read_log(sys.argv[1]))\n")


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """(peak resident set of the child in MB, wall seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")
    proc.stderr.close()
    return usage.ru_maxrss / 1024.0, took


def long_log(tmp: Path, rows: int) -> Path:
    log_dir = tmp / "long"
    subprocess.run([sys.executable, "-m", "kei", "hil", "run", "us_kei_150km", "--cycle", "epa_combined", "--emulator",
                    "python", "--max-steps", str(SEED_STEPS), "--log", str(log_dir), "--json"], cwd=ROOT, check=True,
                   capture_output=True)
    (log_dir / "result.json").unlink()  # the report must summarize the rows
    lines = (log_dir / "steps.csv").read_text().splitlines(keepends=True)
    header, body = lines[0], lines[2:]  # row 0 stays first; the rest repeats with steps continued
    with open(log_dir / "steps.csv", "w") as out:
        out.write(header + lines[1])
        step = 1
        while step < rows:
            for line in body:
                if step >= rows:
                    break
                out.write(f"{step}," + line.split(",", 1)[1])
                step += 1
    return log_dir


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=315_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        log_dir = long_log(Path(tmp_name), args.rows)
        size_mb = (log_dir / "steps.csv").stat().st_size / 1e6
        print(f"bench/hil_report.py: a {args.rows:,}-row steps.csv ({size_mb:.0f} MB), shared 2-core machine")
        streamed = peak_rss([sys.executable, "-m", "kei", "hil", "report", str(log_dir), "--json"])
        loaded = peak_rss([sys.executable, "-c", LOADED, str(log_dir)])
        print(f"  kei hil report (rows streamed)        {streamed[0]:7.0f} MB peak, {streamed[1]:5.1f} s")
        print(f"  baseline: every column loaded at once {loaded[0]:7.0f} MB peak, {loaded[1]:5.1f} s")
        print(f"  ratio streamed / loaded: memory {streamed[0] / loaded[0]:.2f}, time {streamed[1] / loaded[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
