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

"""The host side of the hypervisor tier, outside pytest.

The test fixtures, ``benchmarks/detection.py`` and the demo all need the
same three things: a prepared host (``tools/prepare-host.sh``), a short
world-readable work directory (unix socket paths hold 107 bytes, and QEMU
runs as libvirt-qemu), and the guest image copied into it (the cache is
under a home directory that QEMU cannot read).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import typing

from tests.functional.hypervisor import domains

TOP = pathlib.Path(__file__).resolve().parents[3]
PREPARE_HOST = TOP / "tools" / "prepare-host.sh"
BUILD_IMAGE = TOP / "tools" / "guest-image" / "build.py"


class HostError(Exception):
    """The host cannot run guests; the message says why and what to do."""


def prepare() -> str:
    """Prepare the host (as root) or check it (otherwise); its output.

    :raises HostError: it is not ready and could not be made ready.
    """
    argv = [str(PREPARE_HOST)]
    if os.geteuid() != 0:
        argv.append("--check")
    result = subprocess.run(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False)
    if result.returncode != 0:
        how = "" if os.geteuid() == 0 else (
            "the host is not prepared and only root can prepare it "
            "(sudo %s)\n" % PREPARE_HOST)
        raise HostError("%s%s failed:\n%s" % (how, PREPARE_HOST,
                                              result.stdout))
    return result.stdout


@contextlib.contextmanager
def workdir(prefix: str) -> typing.Iterator[pathlib.Path]:
    """A fresh directory under /tmp that QEMU can enter; removed after."""
    path = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def cached_image() -> pathlib.Path:
    """Build the guest image, or reuse the cached one; its directory.

    The builder's progress goes to standard error as it comes.
    """
    process = subprocess.run([sys.executable, str(BUILD_IMAGE)],
                             stdout=subprocess.PIPE, text=True, check=False)
    if process.returncode != 0:
        raise HostError("%s failed (its output is above)" % BUILD_IMAGE)
    return pathlib.Path(process.stdout.strip().splitlines()[-1])


def install_image(cached: pathlib.Path,
                  directory: pathlib.Path) -> domains.GuestImage:
    """Copy the cached image into ``directory`` (under a work dir)."""
    manifest = json.loads((cached / "manifest.json").read_text())
    directory.mkdir(mode=0o755)
    for name in (manifest["vmlinuz"], manifest["initramfs"]):
        shutil.copy(cached / name, directory / name)
    return domains.GuestImage(directory / manifest["vmlinuz"],
                              directory / manifest["initramfs"],
                              manifest["cmdline"])
