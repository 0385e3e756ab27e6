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

"""The guest kernel and the modules it loads, from a linux-image package.

Debian's linux-image packages ship no ``modules.dep`` (``depmod`` writes it
when the package is installed), so the dependencies come from each
module's own ``.modinfo`` section. The package is read as a stream twice:
once to index every module, once to take the kernel and the modules the
guest needs. Nothing but those is written to disk.
"""

from __future__ import annotations

import dataclasses
import lzma
import pathlib
import tarfile
import typing

from guest_image import elf
from guest_image import packages
from guest_image import progress


class KernelError(RuntimeError):
    """The kernel package lacks something the guest needs."""


@dataclasses.dataclass(frozen=True)
class Module:
    name: str
    path: str           # inside the package, without the leading "./"
    depends: typing.Tuple[str, ...]


@dataclasses.dataclass
class Kernel:
    release: str        # uname -r, e.g. 6.1.0-56-amd64
    vmlinuz: bytes
    #: Modules in load order (dependencies first), with their contents.
    modules: typing.List[typing.Tuple[Module, bytes]]


def _members(deb: pathlib.Path) -> typing.Iterator[
        typing.Tuple[tarfile.TarInfo, tarfile.TarFile]]:
    process = packages.fsys_tarfile(deb)
    assert process.stdout is not None
    try:
        with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
            for member in archive:
                yield member, archive
    finally:
        process.stdout.close()
        process.wait()


def _is_module(member: tarfile.TarInfo) -> bool:
    return member.isfile() and "/kernel/" in member.name and (
        member.name.endswith((".ko", ".ko.xz")))


def _read(member: tarfile.TarInfo, archive: tarfile.TarFile) -> bytes:
    stream = archive.extractfile(member)
    assert stream is not None
    data = stream.read()
    return lzma.decompress(data) if member.name.endswith(".xz") else data


def index(deb: pathlib.Path) -> typing.Dict[str, Module]:
    """Every module in the package, by name."""
    modules = {}
    for member, archive in _members(deb):
        if not _is_module(member):
            continue
        info = elf.modinfo(_read(member, archive))
        name = info.get("name") or pathlib.Path(member.name).name.split(
            ".")[0].replace("-", "_")
        depends = tuple(d for d in info.get("depends", "").split(",") if d)
        modules[name] = Module(name, member.name.lstrip("./"), depends)
    return modules


def load_order(modules: typing.Dict[str, Module],
               wanted: typing.Iterable[str]) -> typing.List[Module]:
    """``wanted`` and everything they depend on, dependencies first.

    Soft dependencies (``softdep=``, and crypto algorithms requested by
    alias at run time) are not followed: name them in ``wanted``.
    """
    order: typing.List[Module] = []

    def visit(name: str, chain: typing.Tuple[str, ...]) -> None:
        if name in chain:
            raise KernelError("module dependency loop: %s" % " -> ".join(
                chain + (name,)))
        module = modules[name]
        if module in order:
            return
        for dep in module.depends:
            visit(dep, chain + (name,))
        order.append(module)

    missing = [name for name in wanted if name not in modules]
    if missing:
        raise KernelError("modules not in the kernel package: %s"
                          % ", ".join(missing))
    for name in wanted:
        visit(name, ())
    return order


def extract(deb: pathlib.Path, wanted: typing.Sequence[str]) -> Kernel:
    """The kernel image and the ``wanted`` modules, with dependencies."""
    progress.step("indexing the modules of %s" % deb.name)
    order = load_order(index(deb), wanted)
    paths = {module.path: module for module in order}
    progress.step("extracting vmlinuz and %d modules: %s" % (
        len(order), " ".join(m.name for m in order)))
    contents: typing.Dict[str, bytes] = {}
    vmlinuz = b""
    release = ""
    for member, archive in _members(deb):
        name = member.name.lstrip("./")
        if name.startswith("boot/vmlinuz-") and member.isfile():
            vmlinuz = _read(member, archive)
            release = name[len("boot/vmlinuz-"):]
        elif name in paths:
            contents[name] = _read(member, archive)
    if not vmlinuz:
        raise KernelError("no boot/vmlinuz-* in %s" % deb.name)
    return Kernel(release, vmlinuz,
                  [(module, contents[module.path]) for module in order])
