"""The firmware on its Cortex-M target (mps2-an386 under qemu-system-arm): the numbers an embedded
engineer asks for, each printed with how it was measured.

1. Flash and RAM of the image by section (from the ELF), hard float and soft float.
2. Instructions per protocol step, measured on target with QEMU `-icount shift=0` (one instruction per
   nanosecond of virtual time; the firmware's cycle counter, a 25 MHz timer, then counts instructions
   / 40) over the steps of a real session (`kei hil run`'s session, the design on its cycle, a
   window of 16): the whole firmware (RX and TX interrupts, rings, main loop: everything but sleep
   and the console) and the core alone (inside kei_device_feed, the TX interrupts it triggers
   included). Hard vs soft float: the ratio. Then where a step's instructions go: the profile image
   (port/mps2_an386/profile.c: the core's parts timed alone, same flags, same objects).
   What that means in microseconds at the board's clock, at one cycle per instruction (a lower bound:
   a Cortex-M4 takes 1 cycle for most instructions, 2 for a load, 2-4 for a taken branch, 14 for a
   VDIV/VSQRT; ARM DDI 0439B chapter 3).
3. The maximum step rate: the UART (one TELEMETRY per step, protocol.md section 5) at 115200 baud
   and at the fastest the CMSDK UART divides its clock (BAUDDIV >= 16), and the CPU at the board's
   clock; which one binds.
4. A full-range session on the target under QEMU (no icount, as fast as QEMU runs): range, cutoff,
   steps per second, stack high-water mark (painted stack), against the same session on the C stub
   built for this host, in this process (the baseline: range difference, rate ratio).

    python3 bench/firmware_target.py [--design FILE] [--cycle NAME] [--icount-steps N]

Shared machines make the wall-clock rates noisy (the instruction counts are not: -icount is
deterministic); the machine's load is printed with them.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kei.hil.firmware.build import BUILD_DIR, make  # noqa: E402
from kei.hil.firmware.console import console_records  # noqa: E402
from kei.hil.firmware.elf import read_image, size_table  # noqa: E402
from kei.hil.firmware.qemu import qemu_program, semihosted_argv  # noqa: E402
from kei.hil.firmware.targets import build_target  # noqa: E402
from kei.hil.session.runner import run_session  # noqa: E402
from kei.hil.wire import protocol as P  # noqa: E402
from kei.units import BITS_PER_BYTE_8N1  # noqa: E402

DESIGN = ROOT / "configs" / "designs" / "sakura_pack.toml"
REFERENCE_BAUD = 115200        # protocol.md section 1
CMSDK_MIN_BAUDDIV = 16         # DDI 0479C section 4.3: the UART's divider must be at least 16
NS_PER_INSTRUCTION = 1.0       # -icount shift=0: 2^0 ns of virtual time per instruction
PORT_TIMEOUT_S = 30.0
STEP_WIRE_BYTES = len(P.Step(seq=1, dt_s=1.0, mode=1, demand=1.0).frame())
TELEMETRY_WIRE_BYTES = len(P.Telemetry(1, 1, *([1.0] * 11), 0, 1).frame())


def profile(elf: Path) -> list[str]:
    """The profile image's lines, run under -icount shift=0 with semihosting."""
    done = subprocess.run(semihosted_argv(qemu_program(), "mps2-an386", elf, icount=True), capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        sys.exit(f"bench/firmware_target.py: {elf} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.splitlines()


def start_device(elf: Path, stderr_path: Path, icount: bool) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "kei.hil.firmware.qemu", "--elf", str(elf), "--idle-exit-s", "120"]
    proc = subprocess.Popen(cmd + (["--icount"] if icount else []), stdout=subprocess.PIPE,
                            stderr=open(stderr_path, "wb"), text=True)
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        sys.exit(f"bench/firmware_target.py: {' '.join(cmd)} printed {line!r}; see {stderr_path}")
    return proc, line.split(None, 1)[1].strip()


def stop_device(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    proc.stdout.close()


def target_session(elf: Path, tmp: Path, name: str, args, *, icount: bool, max_steps: int | None):
    """A session against the image under QEMU; (result, boot record, stats records)."""
    stderr_path = tmp / f"{name}.device.log"
    proc, port = start_device(elf, stderr_path, icount)
    try:
        result = run_session(args.design, args.cycle, port=port, pace="max", log_dir=tmp / name,
                             max_steps=max_steps, progress=False).result
    finally:
        stop_device(proc)
    text = stderr_path.read_text()
    return result, console_records(text, "boot")[-1], console_records(text, "stats")


def instructions_per_step(stats: dict, clock_hz: int) -> tuple[float, float]:
    """(whole firmware, core alone) instructions per step of a session under -icount shift=0, from the
    firmware's last statistics line (its counters start at reset: the session's HELLO, OCV_TABLE,
    CONFIGURE and STOP are in them, < 0.1 % of a few thousand steps, and so is the 1 kHz SysTick
    tick while the CPU waits for bytes, ~40 instructions a tick)."""
    per_cycle = 1e9 / clock_hz / NS_PER_INSTRUCTION  # instructions per timer cycle (40 at 25 MHz)
    busy = stats["cycles"] - stats["idle_cycles"] - stats["console_cycles"]
    return busy * per_cycle / stats["steps"], stats["feed_cycles"] * per_cycle / stats["steps"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--design", default=str(DESIGN))
    p.add_argument("--cycle", default="wltc_jp")
    p.add_argument("--icount-steps", type=int, default=3000, help="steps of the -icount sessions")
    args = p.parse_args()
    print(f"bench/firmware_target.py: {Path(args.design).name} on {args.cycle}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    images = {abi: build_target(name) for abi, name in (("hard", "mps2-an386"), ("soft", "mps2-an386-soft"))}

    print("\n1. flash and RAM by section (arm-none-eabi-gcc -O2, --gc-sections, newlib-nano, no heap)")
    sizes = {}
    for abi, elf in images.items():
        sizes[abi] = read_image(elf)
        print(f"-- {abi} float: {elf}\n{size_table(sizes[abi])}")
    print(f"soft float costs {sizes['soft'].flash_bytes - sizes['hard'].flash_bytes:+d} B of flash")

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print(f"\n2. instructions per step on target (QEMU -icount shift=0, {args.icount_steps} steps of a session)")
        per_step = {}
        for abi, elf in images.items():
            result, boot, stats = target_session(elf, tmp, f"icount_{abi}", args, icount=True,
                                                 max_steps=args.icount_steps)
            clock_hz = boot["clock_hz"]
            whole, core = instructions_per_step(stats[-1], clock_hz)
            per_step[abi] = whole
            print(f"  {abi} float (the image says float={boot['float']}): {whole:8.0f} instructions/step (core alone {core:.0f}) over "
                  f"{stats[-1]['steps']} steps; at {clock_hz / 1e6:g} MHz, 1 cycle/instruction: >= {whole / clock_hz * 1e6:.0f} us "
                  f"per step; stack high-water {stats[-1]['stack_used']} of {stats[-1]['stack_size']} B")
        print(f"  soft / hard float: {per_step['soft'] / per_step['hard']:.2f}x the instructions per step")
        make("mps2-an386-profile")
        for abi, folder in (("hard", "mps2_an386"), ("soft", "mps2_an386-soft")):
            print(f"  where they go, {abi} float (the profile image: each part alone, averaged over 2000 calls):")
            for line in profile(BUILD_DIR / folder / "profile.elf"):
                print(f"    {line}")

        print("\n3. maximum step rate")
        line = {baud: baud / BITS_PER_BYTE_8N1 / TELEMETRY_WIRE_BYTES
                for baud in (REFERENCE_BAUD, clock_hz // CMSDK_MIN_BAUDDIV)}
        for baud, rate in line.items():
            print(f"  UART at {baud} baud 8N1: {rate:7.0f} steps/s (device to host: {TELEMETRY_WIRE_BYTES} B of "
                  f"TELEMETRY per step; host to device {STEP_WIRE_BYTES} B: "
                  f"{baud / BITS_PER_BYTE_8N1 / STEP_WIRE_BYTES:.0f} steps/s)")
        for abi, n in per_step.items():
            cpu = clock_hz / n
            binds = ", ".join(f"{'UART' if rate < cpu else 'CPU'} binds at {baud}" for baud, rate in line.items())
            print(f"  CPU, {abi} float, at {clock_hz / 1e6:g} MHz and 1 cycle/instruction: <= {cpu:7.0f} steps/s "
                  f"({binds})")

        print("\n4. full-range session on the target under QEMU (no icount), baseline the C stub on this host")
        base = run_session(args.design, args.cycle, emulator="firmware", pace="max", log_dir=tmp / "host",
                           progress=False).result
        result, boot, stats = target_session(images["hard"], tmp, "qemu_full", args, icount=False, max_steps=None)
        for name, r in (("C stub, host", base), ("QEMU mps2-an386", result)):
            print(f"  {name:<16} {r['measured_range_km']:9.3f} km, {r['cutoff_reason']}, {r['steps']} steps in "
                  f"{r['elapsed_s']:6.1f} s = {r['steps'] / r['elapsed_s']:7.0f} steps/s")
        print(f"  range difference {100 * (result['measured_range_km'] / base['measured_range_km'] - 1):+.4f} %; "
              f"QEMU runs at {result['elapsed_s'] and (result['steps'] / result['elapsed_s']) / (base['steps'] / base['elapsed_s']):.3f}"
              f" x the host stub's rate; stack high-water after the full range {stats[-1]['stack_used']} of "
              f"{stats[-1]['stack_size']} B; RX ring peak {stats[-1]['rx_max_fill']} B, "
              f"{stats[-1]['rx_dropped']} dropped")


if __name__ == "__main__":
    main()
