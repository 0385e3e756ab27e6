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

"""The guest's root file system: what goes into the initramfs.

The layout is merged-/usr (``/bin``, ``/sbin``, ``/lib`` and ``/lib64``
are links into ``/usr``), so files unpacked from packages at ``/lib/...``
land in ``/usr/lib/...``. Shared libraries are found by following the
``DT_NEEDED`` entries of the binaries the guest runs through the unpacked
packages (the *sysroot*); only those libraries are copied.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import tempfile
import typing
import zipapp
import zipfile

from guest_image import cpio
from guest_image import elf
from guest_image import kernel as kernel_mod

MULTIARCH = "x86_64-linux-gnu"
PYTHON = "python3.11"
#: Directories searched for sonames, as the dynamic loader does.
LIBRARY_DIRS = ("lib/" + MULTIARCH, "usr/lib/" + MULTIARCH, "lib64",
                "usr/lib64", "lib", "usr/lib")
MERGED = ("bin", "sbin", "lib", "lib64")
#: Parts of the standard library the guest does without.
PYTHON_PRUNE = frozenset({
    "test", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip",
    "pydoc_data", "distutils", "config-3.11-" + MULTIARCH, "unittest",
    "venv", "xmlrpc", "wsgiref", "sqlite3", "dbm", "curses", "pydoc",
    "turtle", "__pycache__",
})
#: Extension modules left out: tests, and the ones that would pull in
#: big libraries the agent never uses (OpenSSL, SQLite, ncurses...).
DYNLOAD_DROP = ("_test", "_xx", "xxlimited", "_ctypes_test", "_curses",
                "readline", "nis", "_dbm", "_sqlite3", "ossaudiodev",
                "audioop", "_ssl", "_hashlib")


class ImageError(RuntimeError):
    """Something the guest needs is not in the unpacked packages."""


def merged(path: str) -> str:
    """Where an unpacked package's path lives in the merged-/usr image."""
    path = path.strip("/")
    if path.split("/")[0] in MERGED:
        return "usr/" + path
    return path


class Builder:
    """Fills a :class:`cpio.Archive` from a sysroot and the kernel."""

    def __init__(self, sysroot: pathlib.Path):
        self.sysroot = sysroot
        self.archive = cpio.Archive()
        self._libraries: typing.Set[str] = set()

    # -- the skeleton ---------------------------------------------------

    def skeleton(self) -> None:
        for name in MERGED:
            self.archive.symlink(name, "usr/" + name)
        for name in ("proc", "sys", "dev", "run", "tmp", "mnt", "etc",
                     "root", "usr/bin", "usr/sbin", "usr/lib64"):
            self.archive.directory(name, 0o1777 if name == "tmp" else 0o755)
        self.archive.symlink("var/run", "../run")
        self.archive.directory("var/tmp", 0o1777)
        # The kernel opens it before /init runs, before devtmpfs is there.
        self.archive.char_device("dev/console", 5, 1)

    def overlay(self, root: pathlib.Path) -> None:
        """Copy a directory tree (init scripts, /etc files) verbatim."""
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.archive.copy(str(path.relative_to(root)), path)

    # -- binaries and their libraries -----------------------------------

    def _sysroot_file(self, path: str) -> pathlib.Path:
        """Resolve links inside the sysroot (absolute ones included)."""
        current = self.sysroot / path.lstrip("/")
        for _ in range(40):
            if not current.is_symlink():
                return current
            target = os.readlink(current)
            if target.startswith("/"):
                current = self.sysroot / target.lstrip("/")
            else:
                current = current.parent / target
        raise ImageError("too many symbolic links at %s" % path)

    def _find_library(self, soname: str) -> pathlib.Path:
        for directory in LIBRARY_DIRS:
            candidate = self._sysroot_file(directory + "/" + soname)
            if candidate.is_file():
                return candidate
        raise ImageError("shared library %s not found in the unpacked "
                         "packages" % soname)

    def _add_needed(self, data: bytes) -> None:
        interp = elf.interpreter(data)
        if interp and merged(interp) not in self.archive:
            # The loader is also libc's DT_NEEDED: one copy, and a link.
            name = interp.rpartition("/")[2]
            self.archive.symlink(merged(interp),
                                 "/usr/lib/%s/%s" % (MULTIARCH, name))
        for soname in elf.needed(data):
            if soname in self._libraries:
                continue
            self._libraries.add(soname)
            source = self._find_library(soname)
            self.archive.copy("usr/lib/%s/%s" % (MULTIARCH, soname), source)
            self._add_needed(source.read_bytes())

    def binary(self, path: str, target: typing.Optional[str] = None) -> None:
        """A program from the sysroot, with the libraries it needs."""
        source = self._sysroot_file(path)
        self.archive.copy(target or merged(path), source)
        self._add_needed(source.read_bytes())

    def busybox(self, path: str = "bin/busybox") -> None:
        """busybox, and a link for each applet (its --list-full)."""
        self.binary(path)
        applets = subprocess.run(
            [str(self._sysroot_file(path)), "--list-full"],
            stdout=subprocess.PIPE, check=True).stdout.decode().split()
        for applet in applets:
            link = merged(applet)
            if link not in self.archive:
                self.archive.symlink(link, "/usr/bin/busybox")

    # -- python ---------------------------------------------------------

    def _python_file(self, path: pathlib.Path, relative: str) -> None:
        if path.suffix == ".py" and path.with_suffix(".pyc").exists():
            return
        if relative.startswith("lib-dynload/"):
            if path.name.startswith(DYNLOAD_DROP):
                return
            self._add_needed(path.read_bytes())
        self.archive.copy("usr/lib/%s/%s" % (PYTHON, relative), path)

    def _run_python(self, *args: str) -> None:
        """Run the guest's own Python, from the sysroot, on this host."""
        libdirs = ":".join(str(self.sysroot / d) for d in LIBRARY_DIRS[:2])
        loader = self._sysroot_file("lib64/ld-linux-x86-64.so.2")
        subprocess.run(
            [str(loader), "--library-path", libdirs,
             str(self.sysroot / "usr/bin" / PYTHON), "-I"] + list(args),
            env={"PYTHONHOME": str(self.sysroot / "usr")}, check=True)

    def _compile_stdlib(self, stdlib: pathlib.Path) -> None:
        """Byte-compile the standard library with the guest's Python.

        Under TCG, compiling at the guest's first import costs seconds. The
        pycs go beside the sources (``-b``), so that Python imports them
        without the sources, which the image leaves out to fit small
        guests (tracebacks in the standard library show no source lines).
        """
        self._run_python(
            "-m", "compileall", "-q", "-b", "-j", "0", "--invalidation-mode",
            "unchecked-hash", "-s", str(stdlib.parent), "-p", "/usr/lib",
            "-x", "/(%s)[/.]" % "|".join(sorted(PYTHON_PRUNE)), str(stdlib))

    def python(self) -> None:
        """The interpreter and its standard library, trimmed, compiled."""
        self.binary("usr/bin/" + PYTHON)
        self.archive.symlink("usr/bin/python3", PYTHON)
        stdlib = self.sysroot / "usr/lib" / PYTHON
        self._compile_stdlib(stdlib)
        for path in sorted(stdlib.rglob("*")):
            relative = path.relative_to(stdlib)
            names = relative.parts[:-1] + (path.name.split(".")[0],)
            if PYTHON_PRUNE.intersection(names):
                continue
            if path.is_file() and not path.is_symlink():
                self._python_file(path, str(relative))

    def zipapp(self, path: str, source: pathlib.Path) -> None:
        """A Python zipapp, its modules byte-compiled for a quicker start.

        The guest's own Python compiles them; the pycs go beside the
        sources, which stay.
        """
        with tempfile.TemporaryDirectory() as staging:
            with zipfile.ZipFile(source) as archive:
                archive.extractall(staging)
            self._run_python("-m", "compileall", "-q", "-b",
                             "--invalidation-mode", "unchecked-hash",
                             "-s", staging, staging)
            output = pathlib.Path(staging + ".pyz")
            interpreter = source.read_bytes().partition(b"\n")[0][2:]
            zipapp.create_archive(staging, output, compressed=True,
                                  interpreter=interpreter.decode())
            self.archive.file(path, output.read_bytes(), 0o755)
            output.unlink()

    # -- the kernel's modules -------------------------------------------

    def modules(self, kernel: kernel_mod.Kernel) -> None:
        """The modules, flat, and ``load-order``: one name a line."""
        base = "usr/lib/modules/%s/" % kernel.release
        for module, data in kernel.modules:
            self.archive.file(base + module.name + ".ko", data)
        order = "".join(m.name + "\n" for m, _ in kernel.modules)
        self.archive.file(base + "load-order", order.encode())
