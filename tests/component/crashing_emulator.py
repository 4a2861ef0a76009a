"""The Python emulator with a bug that kills it at one step every time (what issue 15 found: an
emulator crashing at the same step was restarted 185 times in 60 s). A real device process that
keeps the device process contract until that step; the step number comes from
KEI_TEST_CRASH_AT_STEP."""
import os
import sys

from kei.hil.emulator import main as emulator_main
from kei.hil.emulator.device import Device

CRASH_AT_STEP = int(os.environ.get("KEI_TEST_CRASH_AT_STEP", "500"))


class CrashingDevice(Device):
    def _step(self, seq, dt, mode, demand, out):
        if seq == CRASH_AT_STEP:
            print(f"crashing_emulator: simulated crash at step {seq}", file=sys.stderr, flush=True)
            os._exit(3)
        super()._step(seq, dt, mode, demand, out)


if __name__ == "__main__":
    emulator_main.Device = CrashingDevice
    sys.exit(emulator_main.main())
