"""The microcontroller targets the firmware stub is cross-built for, registered by name (docs/firmware.md,
"The Cortex-M target"): the make target that builds the image, where the image lands in the build
folder, and the QEMU machine that runs it. `kei firmware build --target NAME`, the `qemu` device kind
and the tests only ever name a target.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from kei.errors import UsageError
from kei.hil.firmware.build import BUILD_DIR, FirmwareBuildError, make

ARM_CC = "arm-none-eabi-gcc"
ARM_TOOLCHAIN_HINT = "Debian/Ubuntu: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"


@dataclass(frozen=True)
class Target:
    name: str
    make_target: str
    image: str           # the ELF, relative to the build folder
    tests_dir: str       # the semihosted C test images, relative to the build folder
    qemu_machine: str    # qemu-system-arm -machine
    description: str

    @property
    def image_path(self) -> Path:
        return BUILD_DIR / self.image


TARGETS: dict[str, Target] = {}


def register_target(target: Target) -> None:
    TARGETS[target.name] = target


def target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError("--target", f"unknown target {name!r} (known: {', '.join(TARGETS)})") from None


register_target(Target("mps2-an386", "mps2-an386", "mps2_an386/kei_bms.elf", "mps2_an386/tests", "mps2-an386",
                       "Arm MPS2+ AN386: Cortex-M4F at 25 MHz, hard float (QEMU mps2-an386)"))
register_target(Target("mps2-an386-soft", "mps2-an386-soft", "mps2_an386-soft/kei_bms.elf", "mps2_an386-soft/tests",
                       "mps2-an386", "the same board and image with soft float (-mfloat-abi=soft), for comparison"))


def build_target(name: str, *, pack_config: str | Path | None = None, tests: bool = False) -> Path:
    """Build (if needed) the firmware image of target `name` and return its ELF; with `tests`, its C
    test images too. FirmwareBuildError (with the compiler's output) if it cannot be built."""
    t = target(name)
    if shutil.which(ARM_CC) is None:
        raise FirmwareBuildError(f"cannot build the {name} firmware: {ARM_CC} not found on PATH ({ARM_TOOLCHAIN_HINT})")
    make(t.make_target, *([f"{t.make_target}-tests"] if tests else []), pack_config=pack_config)
    return t.image_path
