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

"""Debian packages: resolve versions, download them, unpack them.

Only the ordinary clients are used: ``apt-cache depends`` and
``apt-cache show`` for what the configured mirrors offer, ``apt-get
download`` (no root needed) into a cache directory, and ``dpkg-deb`` to
unpack. Nothing is installed.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import subprocess
import typing

from guest_image import progress

#: Dependencies followed from the packages the image asks for: shared
#: libraries only. Anything else (init-system-helpers, media-types, perl
#: through usrmerge...) is not needed in an initramfs.
_LIBRARY = re.compile(r"^(lib[a-z0-9].*|zlib1g)$")
_NOT_NEEDED = re.compile(r"^(libperl|libc-bin|libtirpc-common|readline-)")


#: One package's fields, as ``apt-cache show`` prints them.
Stanza = typing.Dict[str, str]


class PackageError(RuntimeError):
    """A package cannot be resolved, downloaded or unpacked."""


@dataclasses.dataclass(frozen=True)
class Package:
    name: str
    version: str
    architecture: str
    size: int

    @property
    def deb_name(self) -> str:
        """The file name ``apt-get download`` gives the package."""
        return "%s_%s_%s.deb" % (self.name, self.version.replace(":", "%3a"),
                                 self.architecture)

    def __str__(self) -> str:
        return "%s=%s" % (self.name, self.version)


def _run(argv: typing.Sequence[str]) -> str:
    result = subprocess.run(list(argv), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        raise PackageError("%s failed (exit %d): %s" % (
            " ".join(argv[:3]), result.returncode,
            result.stderr.decode(errors="replace").strip()))
    return result.stdout.decode(errors="replace")


def _stanzas(text: str) -> typing.Iterator[Stanza]:
    for block in text.split("\n\n"):
        fields: Stanza = {}
        key = ""
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            yield fields


def show(names: typing.Iterable[str]) -> typing.Dict[str, Stanza]:
    """The candidate stanza of each package, from ``apt-cache show``."""
    names = sorted(set(names))
    text = _run(["apt-cache", "show", "--no-all-versions"] + names)
    stanzas = {fields["Package"]: fields for fields in _stanzas(text)}
    missing = [name for name in names if name not in stanzas]
    if missing:
        raise PackageError(
            "no candidate for %s: run 'apt-get update' (as root) first"
            % " ".join(missing))
    return stanzas


def dependency_map(roots: typing.Sequence[str]) -> typing.Dict[
        str, typing.List[str]]:
    """The dependencies of every package reachable from ``roots``.

    For each package, the first alternative of each Depends and
    Pre-Depends entry, from one ``apt-cache depends --recurse``.
    """
    text = _run(["apt-cache", "depends", "--recurse", "--no-recommends",
                 "--no-suggests", "--no-conflicts", "--no-breaks",
                 "--no-replaces", "--no-enhances"] + list(roots))
    deps: typing.Dict[str, typing.List[str]] = {}
    current: typing.List[str] = []
    in_group = False
    for line in text.splitlines():
        if not line.startswith(" "):
            current = deps.setdefault(line.strip(), [])
            in_group = False
            continue
        kind, _, name = line.strip().lstrip("|").partition(": ")
        if kind in ("Depends", "PreDepends") and not in_group:
            current.append(name.strip("<>").split(":")[0])
        in_group = line.startswith(" |")
    return deps


def _libraries(deps: typing.Dict[str, typing.List[str]],
               follow: typing.Iterable[str]) -> typing.Set[str]:
    """The shared-library packages ``follow`` need, recursively."""
    found: typing.Set[str] = set()
    todo = list(follow)
    while todo:
        for dep in deps.get(todo.pop(), []):
            if (_LIBRARY.match(dep) and not _NOT_NEEDED.match(dep)
                    and dep not in found):
                found.add(dep)
                todo.append(dep)
    return found


def _package(stanza: Stanza) -> Package:
    return Package(stanza["Package"], stanza["Version"],
                   stanza["Architecture"], int(stanza.get("Size", "0")))


def resolve(roots: typing.Sequence[str], follow: typing.Iterable[str] = (),
            kernel_meta: str = "") -> typing.List[Package]:
    """The packages of the image, at their candidate versions.

    ``roots``, the shared libraries ``follow`` need, and the kernel package
    that ``kernel_meta`` (``linux-image-amd64``) depends on.
    """
    deps = dependency_map(list(roots) + ([kernel_meta] if kernel_meta
                                         else []))
    names = set(roots) | _libraries(deps, follow)
    if kernel_meta:
        images = [d for d in deps.get(kernel_meta, [])
                  if d.startswith("linux-image-")]
        if not images:
            raise PackageError("%s depends on no linux-image package"
                               % kernel_meta)
        names.add(images[0])
    stanzas = show(names)
    return [_package(stanzas[name]) for name in sorted(stanzas)]


def download(packages: typing.Sequence[Package],
             debs: pathlib.Path) -> typing.Dict[str, pathlib.Path]:
    """The .deb of each package, downloaded into ``debs`` when missing."""
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not (debs / p.deb_name).exists()]
    if missing:
        size = sum(p.size for p in missing) / 2**20
        progress.step("downloading %d packages (%.1f MiB) into %s"
                      % (len(missing), size, debs))
        subprocess.run(
            ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root"]
            + [str(p) for p in missing], cwd=debs, check=True,
            stdout=subprocess.DEVNULL)
    else:
        progress.step("all %d packages already downloaded" % len(packages))
    paths = {p.name: debs / p.deb_name for p in packages}
    absent = [name for name, path in paths.items() if not path.exists()]
    if absent:
        raise PackageError("apt-get download did not fetch %s" % absent)
    return paths


def extract(deb: pathlib.Path, target: pathlib.Path) -> None:
    """Unpack a package's files under ``target`` (``dpkg-deb -x``)."""
    target.mkdir(parents=True, exist_ok=True)
    _run(["dpkg-deb", "-x", str(deb), str(target)])


def fsys_tarfile(deb: pathlib.Path) -> "subprocess.Popen[bytes]":
    """A process writing the package's data as a tar stream to stdout."""
    return subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                            stdout=subprocess.PIPE)
