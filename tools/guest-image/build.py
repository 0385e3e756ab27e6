#!/usr/bin/env python3
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

"""Build the hypervisor tests' guest image: a kernel and an initramfs.

Everything comes from the Debian packages the configured mirrors offer,
fetched with ``apt-get download`` and unpacked in a work directory: no
package is installed and nothing is written outside the cache directory.

* ``vmlinuz``: the current bookworm kernel (``linux-image-amd64``'s);
* ``initramfs.cpio.gz``: busybox, qemu-guest-agent and Python 3.11 with
  the libraries they need, the virtio modules, the heartbeat agent as a
  zipapp, and ``rootfs/`` from beside this script (``/init`` and the
  ``hb-*`` commands).

The result is cached in ``$NOVA_VM_HEARTBEAT_CACHE/guest-image-<key>/``
(default ``~/.cache/nova-vm-heartbeat``), where the key hashes every
input: the package versions, this builder, ``rootfs/`` and the agent's
sources. A second run with the same inputs only checks the versions.
Progress goes to standard error; the image's directory, with
``manifest.json``, is printed on standard output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import typing

from guest_image import kernel
from guest_image import packages
from guest_image import progress
from guest_image import rootfs

HERE = pathlib.Path(__file__).resolve().parent
TOP = HERE.parent.parent
OVERLAY = HERE / "rootfs"
ZIPAPP_BUILDER = TOP / "tools" / "build-guest-zipapp.py"
#: The agent's sources, as tools/build-guest-zipapp.py packs them.
AGENT_SOURCES = ("nova_vm_heartbeat/__init__.py", "nova_vm_heartbeat/common",
                 "nova_vm_heartbeat/protocol", "nova_vm_heartbeat/guest")
AGENT_PATH = "usr/lib/nova-vm-heartbeat/agent.pyz"

KERNEL_META = "linux-image-amd64"
PACKAGES = ("busybox-static", "qemu-guest-agent", "python3.11-minimal",
            "libpython3.11-minimal", "libpython3.11-stdlib")
#: Packages whose shared-library dependencies are fetched too.
FOLLOW = PACKAGES[1:]
#: Kernel modules loaded at boot, with their dependencies. crc32c_generic
#: is what ext4 asks the crypto API for at mount time (not a hard
#: dependency, so it is named here).
MODULES = ("virtio_pci", "virtio_console", "virtio_blk", "pvpanic_mmio",
           "pvpanic_pci", "button", "evdev", "crc32c_generic", "ext4")
#: Older images kept in the cache besides the current one.
KEEP_IMAGES = 2
#: The kernel command line the image is made for. rootfstype=ramfs: the
#: initramfs is unpacked into a ramfs, not a tmpfs capped at half the
#: memory left, which a 128 MiB guest would not fit.
CMDLINE = "console=ttyS0 quiet rootfstype=ramfs"


def default_cache() -> pathlib.Path:
    return pathlib.Path(os.environ.get("NOVA_VM_HEARTBEAT_CACHE")
                        or pathlib.Path.home() / ".cache/nova-vm-heartbeat")


# --- the cache key -----------------------------------------------------------

def _tree_files(path: pathlib.Path) -> typing.Iterator[pathlib.Path]:
    if path.is_file():
        yield path
        return
    for child in sorted(path.rglob("*")):
        if child.is_file() and "__pycache__" not in child.parts:
            yield child


def _digest_files(digest: "hashlib._Hash", paths: typing.Iterable[
        pathlib.Path], base: pathlib.Path) -> None:
    for path in paths:
        mode = path.stat().st_mode & 0o777
        digest.update(b"%s %o\n" % (str(path.relative_to(base)).encode(),
                                    mode))
        digest.update(path.read_bytes())


def cache_key(resolved: typing.Sequence[packages.Package]) -> str:
    """A hash of every input of the image."""
    digest = hashlib.sha256()
    digest.update(("%s\n%s\n%s\n" % (
        " ".join(map(str, resolved)), " ".join(MODULES), CMDLINE)).encode())
    _digest_files(digest, _tree_files(HERE / "build.py"), TOP)
    _digest_files(digest, _tree_files(HERE / "guest_image"), TOP)
    _digest_files(digest, _tree_files(OVERLAY), TOP)
    _digest_files(digest, _tree_files(ZIPAPP_BUILDER), TOP)
    for source in AGENT_SOURCES:
        _digest_files(digest, _tree_files(TOP / source), TOP)
    return digest.hexdigest()[:16]


# --- the build ---------------------------------------------------------------

def build_zipapp(output: pathlib.Path) -> None:
    progress.step("building the agent zipapp")
    subprocess.run([sys.executable, str(ZIPAPP_BUILDER), "--output",
                    str(output)], check=True, stdout=subprocess.DEVNULL)


def unpack(debs: typing.Dict[str, pathlib.Path],
           sysroot: pathlib.Path) -> None:
    progress.step("unpacking %d packages" % len(debs))
    for name in sorted(debs):
        packages.extract(debs[name], sysroot)


def assemble(sysroot: pathlib.Path, linux: kernel.Kernel,
             agent: pathlib.Path, manifest: typing.Dict[str, typing.Any],
             ) -> rootfs.Builder:
    progress.step("assembling the root file system")
    builder = rootfs.Builder(sysroot)
    builder.skeleton()
    builder.busybox()
    builder.binary("usr/sbin/qemu-ga")
    builder.python()
    builder.modules(linux)
    builder.zipapp(AGENT_PATH, agent)
    builder.overlay(OVERLAY)
    builder.archive.file("etc/nova-vm-heartbeat/image.json", json.dumps(
        manifest, indent=1, sort_keys=True).encode() + b"\n")
    return builder


def build(target: pathlib.Path, work: pathlib.Path,
          resolved: typing.Sequence[packages.Package],
          debs: typing.Dict[str, pathlib.Path],
          manifest: typing.Dict[str, typing.Any]) -> None:
    """Write vmlinuz, initramfs.cpio.gz and manifest.json to ``target``."""
    kernel_name = [p.name for p in resolved
                   if p.name.startswith("linux-image-")][0]
    sysroot = work / "sysroot"
    unpack({n: d for n, d in debs.items() if n != kernel_name}, sysroot)
    linux = kernel.extract(debs[kernel_name], MODULES)
    manifest["kernel_release"] = linux.release
    manifest["modules"] = [m.name for m, _ in linux.modules]
    build_zipapp(work / "agent.pyz")
    builder = assemble(sysroot, linux, work / "agent.pyz", manifest)
    target.mkdir()
    (target / "vmlinuz").write_bytes(linux.vmlinuz)
    size = builder.archive.size() / 2**20
    progress.step("writing initramfs.cpio.gz (%d entries, %.1f MiB "
                  "uncompressed)" % (len(builder.archive.entries), size))
    builder.archive.write(target / "initramfs.cpio.gz")
    manifest["initramfs_uncompressed_bytes"] = builder.archive.size()
    (target / "manifest.json").write_text(json.dumps(
        manifest, indent=1, sort_keys=True) + "\n")


def prune_debs(debs_dir: pathlib.Path,
               keep: typing.Iterable[pathlib.Path]) -> None:
    """Remove downloaded packages that the image no longer uses."""
    names = {path.name for path in keep}
    for path in debs_dir.glob("*.deb"):
        if path.name not in names:
            path.unlink()


def prune_images(cache: pathlib.Path, current: pathlib.Path,
                 keep: int = KEEP_IMAGES) -> None:
    """Remove all but the ``keep`` newest other images from the cache."""
    others = sorted((p for p in cache.glob("guest-image-*")
                     if p.is_dir() and p != current
                     and not p.name.startswith("guest-image-build-")),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in others[keep:]:
        progress.step("removing the old image %s" % old)
        shutil.rmtree(old, ignore_errors=True)


def ensure_image(cache: pathlib.Path, force: bool = False) -> pathlib.Path:
    """The image's directory, built if its inputs changed."""
    started = time.monotonic()
    progress.step("resolving package versions (apt-cache)")
    resolved = packages.resolve(PACKAGES, follow=FOLLOW,
                                kernel_meta=KERNEL_META)
    key = cache_key(resolved)
    target = cache / ("guest-image-" + key)
    if (target / "manifest.json").exists() and not force:
        progress.step("up to date: %s" % target)
        return target
    if target.exists():
        shutil.rmtree(target)
    debs = packages.download(resolved, cache / "debs")
    cache.mkdir(parents=True, exist_ok=True)
    manifest: typing.Dict[str, typing.Any] = {
        "key": key, "cmdline": CMDLINE,
        "packages": [str(p) for p in resolved],
        "vmlinuz": "vmlinuz", "initramfs": "initramfs.cpio.gz"}
    with tempfile.TemporaryDirectory(prefix="guest-image-build-",
                                     dir=cache) as work:
        partial = pathlib.Path(work) / "image"
        build(partial, pathlib.Path(work), resolved, debs, manifest)
        try:
            partial.rename(target)
        except OSError:
            if not (target / "manifest.json").exists():
                raise
            progress.step("another build finished first; using it")
    prune_debs(cache / "debs", debs.values())
    prune_images(cache, target)
    seconds = time.monotonic() - started
    progress.step("built in %.1f s: %s" % (seconds, target))
    return target


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=pathlib.Path,
                        default=default_cache(),
                        help="where images and packages are cached "
                        "(default: $NOVA_VM_HEARTBEAT_CACHE or "
                        "~/.cache/nova-vm-heartbeat)")
    parser.add_argument("--force", action="store_true",
                        help="rebuild even if the cached image is current")
    args = parser.parse_args(argv)
    try:
        target = ensure_image(args.cache_dir.expanduser(), args.force)
    except (packages.PackageError, kernel.KernelError,
            rootfs.ImageError) as err:
        print("error: %s" % err, file=sys.stderr)
        return 1
    for name in ("vmlinuz", "initramfs.cpio.gz", "manifest.json"):
        path = target / name
        progress.step("%-18s %6.1f MiB  %s" % (
            name, path.stat().st_size / 2**20, path))
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
