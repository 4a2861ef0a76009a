"""The pure parts of the Cortex-M target support: the console line parser, the ELF reader's errors,
and the QEMU command line (no toolchain or QEMU needed; tests/component/test_firmware_qemu.py runs them)."""
from __future__ import annotations

from pathlib import Path

import pytest

from kei.hil.firmware.console import console_records, parse_line
from kei.hil.firmware.elf import ElfError, read_image
from kei.hil.firmware.qemu import BOOT_ARGS_MAGIC, qemu_argv

BOOT = ("kei-c: boot board=mps2-an386 device_id=0x00001234 configured=1 float=hard clock_hz=25000000 baud=115200 "
        "device_bytes=1580 stack_size=4096")
STATS = ("kei-c: stats uptime_ms=1000 cycles=25592422 steps=338 last_seq=338 frames=339 cobs=0 crc=0 short=0 "
         "oversize=0 stack_used=700 stack_size=4096")


def test_console_lines_parse_to_numbers_and_words():
    kind, fields = parse_line(BOOT)
    assert kind == "boot" and fields["device_id"] == 0x1234 and fields["float"] == "hard"
    assert fields["clock_hz"] == 25_000_000 and fields["board"] == "mps2-an386"
    kind, fields = parse_line(STATS + "\n")
    assert kind == "stats" and fields["steps"] == 338 and fields["stack_used"] == 700


@pytest.mark.parametrize("line", ["qemu-system-arm: warning: nic lan9118.0 has no peer",
                                  "kei qemu device: exit; last console statistics: " + STATS,
                                  "kei-c: stats", "kei-c: reboot a=1", ""])
def test_other_lines_are_not_console_records(line):
    assert parse_line(line) is None


def test_console_records_keeps_the_order_and_the_kind():
    log = "\n".join([BOOT, "noise", STATS, STATS.replace("steps=338", "steps=900")])
    assert [r["steps"] for r in console_records(log, "stats")] == [338, 900]
    assert len(console_records(log, "boot")) == 1


def test_elf_reader_names_the_file_it_cannot_read(tmp_path):
    bad = tmp_path / "not_an_image.elf"
    bad.write_bytes(b"\x7fELF\x02\x01" + bytes(60))  # a 64-bit ELF header: not a Cortex-M image
    with pytest.raises(ElfError, match="not_an_image.elf: not a 32-bit little-endian ELF"):
        read_image(bad)
    truncated = tmp_path / "truncated.elf"
    truncated.write_bytes(b"\x7fELF\x01\x01" + bytes(46))
    with pytest.raises(ElfError, match="truncated.elf"):
        read_image(truncated)
    with pytest.raises(ElfError, match="missing.elf: cannot read"):
        read_image(tmp_path / "missing.elf")


def test_qemu_runs_the_image_with_its_uarts_on_the_given_sockets_and_the_boot_arguments():
    argv = qemu_argv("qemu-system-arm", "mps2-an386", Path("fw.elf"), 7, 9, 0x20000000, 0xC0FFEE, 1, icount=False)
    text = " ".join(argv)
    # UART0 (first -serial) is the protocol socket, UART1 the console
    assert argv.index("chardev:uart0") < argv.index("chardev:console")
    assert "socket,id=uart0,fd=7" in text and "socket,id=console,fd=9" in text
    assert f"loader,addr=0x20000000,data={(0xC0FFEE << 32) | BOOT_ARGS_MAGIC:#x},data-len=8" in text
    assert "loader,addr=0x20000008,data=0x1,data-len=4" in text
    assert "-icount" not in argv and argv[-2:] == ["-kernel", "fw.elf"]
    icount = qemu_argv("qemu-system-arm", "mps2-an386", Path("fw.elf"), 7, 9, 0x20000000, 1, 0, icount=True)
    assert icount[icount.index("-icount") + 1].startswith("shift=0")
