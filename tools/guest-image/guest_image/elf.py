# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Just enough ELF reading for the image builder.

Two questions are answered, for 64-bit little-endian x86-64 files only:
which shared libraries an executable or library needs (``DT_NEEDED``, and
its program interpreter), and what a kernel module's ``.modinfo`` section
says (its name and the modules it depends on).
"""

from __future__ import annotations

import struct
import typing

MAGIC = b"\x7fELF"
_CLASS64 = 2
_LITTLE = 1
_PT_INTERP = 3
_PT_DYNAMIC = 2
_PT_LOAD = 1
_DT_NULL = 0
_DT_NEEDED = 1
_DT_STRTAB = 5

_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_PROGRAM = struct.Struct("<IIQQQQQQ")
_SECTION = struct.Struct("<IIQQQQIIQQ")
_DYN = struct.Struct("<qQ")


class NotElf(ValueError):
    """The data is not a 64-bit little-endian ELF file."""


class _Header(typing.NamedTuple):
    phoff: int
    shoff: int
    phnum: int
    shnum: int
    shstrndx: int


def is_elf(data: bytes) -> bool:
    return data[:4] == MAGIC


def _header(data: bytes) -> _Header:
    if len(data) < _HEADER.size or not is_elf(data):
        raise NotElf("not an ELF file")
    ident = data[:16]
    if ident[4] != _CLASS64 or ident[5] != _LITTLE:
        raise NotElf("not a 64-bit little-endian ELF file")
    fields = _HEADER.unpack_from(data)
    return _Header(phoff=fields[5], shoff=fields[6], phnum=fields[10],
                   shnum=fields[12], shstrndx=fields[13])


def _segments(data: bytes) -> typing.Iterator[typing.Tuple[int, ...]]:
    """(type, offset, vaddr, filesz) of each program header."""
    header = _header(data)
    for index in range(header.phnum):
        p_type, _, offset, vaddr, _, filesz, _, _ = _PROGRAM.unpack_from(
            data, header.phoff + index * _PROGRAM.size)
        yield p_type, offset, vaddr, filesz


def _cstring(data: bytes, offset: int) -> str:
    end = data.index(b"\0", offset)
    return data[offset:end].decode("utf-8", "replace")


def interpreter(data: bytes) -> typing.Optional[str]:
    """The program interpreter (``PT_INTERP``), if there is one."""
    for p_type, offset, _, _ in _segments(data):
        if p_type == _PT_INTERP:
            return _cstring(data, offset)
    return None


def _file_offset(data: bytes, vaddr: int) -> int:
    """The file offset of a virtual address, through the PT_LOAD map."""
    for p_type, offset, start, filesz in _segments(data):
        if p_type == _PT_LOAD and start <= vaddr < start + filesz:
            return vaddr - start + offset
    raise NotElf("address %#x is in no loaded segment" % vaddr)


def _dynamic_entries(data: bytes) -> typing.List[typing.Tuple[int, int]]:
    for p_type, offset, _, filesz in _segments(data):
        if p_type != _PT_DYNAMIC:
            continue
        entries = []
        for pos in range(offset, offset + filesz, _DYN.size):
            tag, value = _DYN.unpack_from(data, pos)
            if tag == _DT_NULL:
                break
            entries.append((tag, value))
        return entries
    return []


def needed(data: bytes) -> typing.List[str]:
    """The sonames an executable or library needs (``DT_NEEDED``)."""
    entries = _dynamic_entries(data)
    strtab = [value for tag, value in entries if tag == _DT_STRTAB]
    if not strtab:
        return []
    base = _file_offset(data, strtab[0])
    return [_cstring(data, base + value)
            for tag, value in entries if tag == _DT_NEEDED]


def _sections(data: bytes) -> typing.Dict[str, bytes]:
    header = _header(data)
    raw = [_SECTION.unpack_from(data, header.shoff + i * _SECTION.size)
           for i in range(header.shnum)]
    if not raw:
        return {}
    names_offset = raw[header.shstrndx][4]
    return {_cstring(data, names_offset + name): data[offset:offset + size]
            for name, _, _, _, offset, size, _, _, _, _ in raw}


def modinfo(data: bytes) -> typing.Dict[str, str]:
    """A kernel module's ``.modinfo`` as a dict (the last value wins)."""
    section = _sections(data).get(".modinfo", b"")
    info = {}
    for item in section.split(b"\0"):
        key, sep, value = item.decode("utf-8", "replace").partition("=")
        if sep:
            info[key] = value
    return info
