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

"""An initramfs as a list of entries, written as a gzipped ``newc`` cpio.

Entries are described in memory and written with owner root, so the build
needs no root privileges, even for the device nodes the kernel wants
before ``/init`` runs (``/dev/console``).
"""

from __future__ import annotations

import dataclasses
import gzip
import pathlib
import stat
import typing

_TRAILER = "TRAILER!!!"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One file, directory, symbolic link or device node of the archive."""

    path: str
    mode: int
    #: File contents, a file to read them from, or a link target.
    data: typing.Union[bytes, pathlib.Path] = b""
    rdev: typing.Tuple[int, int] = (0, 0)
    mtime: int = 0

    def contents(self) -> bytes:
        if isinstance(self.data, pathlib.Path):
            return self.data.read_bytes()
        return self.data


class Archive:
    """The entries of an initramfs, by path; parents are added for you."""

    def __init__(self) -> None:
        self.entries: typing.Dict[str, Entry] = {}

    def __contains__(self, path: str) -> bool:
        return path.strip("/") in self.entries

    def _put(self, entry: Entry) -> None:
        path = entry.path.strip("/")
        parent = path.rpartition("/")[0]
        if parent and parent not in self.entries:
            self.directory(parent)
        self.entries[path] = dataclasses.replace(entry, path=path)

    def directory(self, path: str, mode: int = 0o755) -> None:
        self._put(Entry(path, stat.S_IFDIR | mode))

    def file(self, path: str, data: typing.Union[bytes, pathlib.Path],
             mode: int = 0o644, mtime: int = 0) -> None:
        self._put(Entry(path, stat.S_IFREG | mode, data, mtime=mtime))

    def copy(self, path: str, source: pathlib.Path) -> None:
        """A regular file with the mode and mtime of ``source``."""
        info = source.stat()
        self.file(path, source, stat.S_IMODE(info.st_mode),
                  int(info.st_mtime))

    def symlink(self, path: str, target: str) -> None:
        self._put(Entry(path, stat.S_IFLNK | 0o777, target.encode()))

    def char_device(self, path: str, major: int, minor: int,
                    mode: int = 0o600) -> None:
        self._put(Entry(path, stat.S_IFCHR | mode, rdev=(major, minor)))

    def size(self) -> int:
        """Bytes of file contents, uncompressed."""
        return sum(len(entry.contents()) for entry in self.entries.values()
                   if stat.S_ISREG(entry.mode))

    def write(self, output: pathlib.Path, level: int = 6) -> None:
        """Write the gzipped archive, parents before children."""
        with gzip.open(output, "wb", compresslevel=level) as stream:
            for ino, path in enumerate(sorted(self.entries), start=1):
                entry = self.entries[path]
                stream.write(_record(entry, ino, entry.contents()))
            stream.write(_record(Entry(_TRAILER, 0), 0, b""))


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _record(entry: Entry, ino: int, data: bytes) -> bytes:
    name = entry.path.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (ino, entry.mode, 0, 0, nlink, entry.mtime, len(data), 0, 0,
              entry.rdev[0], entry.rdev[1], len(name), 0)
    header = b"070701" + b"".join(b"%08X" % value for value in fields)
    head = header + name
    return head + _pad(len(head)) + data + _pad(len(data))
