"""Steps per second the emulated BMS handles in-process (no port): the device's own ceiling.

Baseline, in the same process: the codec alone (encode a STEP, decode it, encode and decode a
TELEMETRY), i.e. the framing work every step costs on both ends. Then the Device object fed the
STEP frames one at a time (stop-and-wait) and 16 at a time (a full pipelining window), with the
pack stepping in power mode. Prints rates and their ratio to the baseline.

    python3 bench/hil_device.py [--steps N]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kei.hil.emulator.device import Device  # noqa: E402
from kei.hil.setup.bms_config import load_bms_config  # noqa: E402
from kei.hil.setup.pack_setup import pack_setup  # noqa: E402
from kei.hil.wire.framing import FrameDecoder  # noqa: E402
from kei.hil.wire.protocol import WINDOW, Step, Telemetry, decode  # noqa: E402
from kei.vehicle.files import load_vehicle  # noqa: E402

DESIGN = Path(__file__).resolve().parents[1] / "configs" / "designs" / "sakura_pack.toml"
DEMAND_W, DT_S = 8000.0, 0.2  # a steady cruise the pack sustains for the whole benchmark (no fault)


def frames(n: int) -> list[bytes]:
    return [Step(seq & 0xFFFF, DT_S, 1, DEMAND_W).frame() for seq in range(1, n + 1)]


def codec_baseline(wire: list[bytes]) -> float:
    dec_host, dec_dev = FrameDecoder(), FrameDecoder()
    telemetry = Telemetry(1, 1, 350.0, 20.0, 0.5, 0.5, 3.8, 3.8, 25.0, 150.0, 50.0, 100.0, 0.5, 0, 1)
    start = time.perf_counter()
    for frame in wire:
        decode(dec_dev.feed(frame)[0])
        decode(dec_host.feed(telemetry.frame())[0])
    return len(wire) / (time.perf_counter() - start)


def device_rate(wire: list[bytes], batch: int) -> float:
    setup = pack_setup(load_vehicle(DESIGN), load_bms_config())
    device, host = Device(device_id=1), FrameDecoder()
    host.feed(device.feed(b"".join(m.frame() for m in setup.messages)))
    chunks = [b"".join(wire[i:i + batch]) for i in range(0, len(wire), batch)]
    start = time.perf_counter()
    answered = 0
    for chunk in chunks:
        answered += len(host.feed(device.feed(chunk)))
    elapsed = time.perf_counter() - start
    assert answered == len(wire) and device.counters["steps_applied"] == len(wire), device.counters
    return len(wire) / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20000)
    n = p.parse_args().steps
    wire = frames(n)
    base = codec_baseline(wire)
    print(f"codec baseline (STEP + TELEMETRY encode/decode): {base:9.0f} steps/s")
    for batch, label in ((1, "stop-and-wait, 1 frame per feed"), (WINDOW, f"pipelined, {WINDOW} frames per feed")):
        rate = device_rate(wire, batch)
        print(f"device, {label:34s} {rate:9.0f} steps/s = {rate / base:.2f} x baseline "
              f"({1e6 / rate:.1f} us per step, host-side decoding included)")


if __name__ == "__main__":
    main()
