"""Read what the bench needs from a firmware ELF (32-bit little-endian, as arm-none-eabi-gcc writes it):
the allocated sections with their sizes and where they live (flash, RAM), and symbol addresses. Pure
Python, so `kei firmware build` reports sizes and the QEMU launcher finds its boot arguments without
binutils at run time.

Section layout per the ELF specification (System V gABI, "Sections"); the flags used here: SHF_ALLOC
(occupies memory at run time), SHF_WRITE (RAM), SHF_EXECINSTR; type SHT_NOBITS (.bss, .stack: no bytes
in the file, nothing to program into flash).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from kei.hil.errors import DeviceUnavailable

_ELF_MAGIC = b"\x7fELF"
_ELFCLASS32, _ELFDATA2LSB = 1, 1
_SHT_SYMTAB, _SHT_NOBITS = 2, 8
_SHF_WRITE, _SHF_ALLOC = 0x1, 0x2
_HEADER = struct.Struct("<16sHHIIIIIHHHHHH")
_SECTION = struct.Struct("<IIIIIIIIII")
_SYMBOL = struct.Struct("<IIIBBH")


class ElfError(DeviceUnavailable):
    """The firmware image cannot be read (not a 32-bit little-endian ELF, truncated)."""


@dataclass(frozen=True)
class Section:
    name: str
    address: int
    size_bytes: int
    in_flash: bool  # its bytes are programmed into flash: code, constants, the initial values of .data
    in_ram: bool    # it occupies RAM at run time: .data, .bss, the stack


@dataclass(frozen=True)
class Image:
    path: Path
    sections: tuple[Section, ...]
    symbols: dict[str, int]

    @property
    def flash_bytes(self) -> int:
        return sum(s.size_bytes for s in self.sections if s.in_flash)

    @property
    def ram_bytes(self) -> int:
        return sum(s.size_bytes for s in self.sections if s.in_ram)

    def symbol(self, name: str) -> int:
        try:
            return self.symbols[name]
        except KeyError:
            raise ElfError(f"{self.path}: no symbol {name!r} (not a kei firmware image?)") from None


def _cstring(table: bytes, offset: int) -> str:
    return table[offset:table.index(b"\0", offset)].decode("ascii", "replace")


def read_image(path: str | Path) -> Image:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ElfError(f"{path}: cannot read the firmware image: {err.strerror}") from err
    if len(data) < _HEADER.size or data[:4] != _ELF_MAGIC or data[4] != _ELFCLASS32 or data[5] != _ELFDATA2LSB:
        raise ElfError(f"{path}: not a 32-bit little-endian ELF file")
    try:
        (_, _, _, _, _, _, shoff, _, _, _, _, shentsize, shnum, shstrndx) = _HEADER.unpack_from(data)
        headers = [_SECTION.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
        names = data[headers[shstrndx][4]:][:headers[shstrndx][5]]
        sections, symbols = [], {}
        for name_off, sh_type, flags, addr, offset, size, link, _, _, entsize in headers:
            if flags & _SHF_ALLOC and size:
                writable, nobits = bool(flags & _SHF_WRITE), sh_type == _SHT_NOBITS
                sections.append(Section(_cstring(names, name_off), addr, size, in_flash=not nobits,
                                        in_ram=writable))
            if sh_type == _SHT_SYMTAB:
                strtab = data[headers[link][4]:][:headers[link][5]]
                for k in range(size // entsize):
                    st_name, value, _, _, _, shndx = _SYMBOL.unpack_from(data, offset + k * entsize)
                    if st_name and shndx:
                        symbols.setdefault(_cstring(strtab, st_name), value)
    except (struct.error, IndexError, ValueError) as err:
        raise ElfError(f"{path}: truncated or malformed ELF ({err})") from err
    return Image(path, tuple(sections), symbols)


def size_table(image: Image) -> str:
    """Flash and RAM of `image` by section, as a text table (what `kei firmware build --target` prints)."""
    rows = [f"{'section':<12} {'address':>10} {'bytes':>7}  flash  RAM"]
    rows += [f"{s.name:<12} {s.address:#010x} {s.size_bytes:>7}  {'x' if s.in_flash else ' ':^5}  {'x' if s.in_ram else ' ':^3}"
             for s in image.sections]
    rows.append(f"flash {image.flash_bytes} B, RAM {image.ram_bytes} B")
    return "\n".join(rows)
