"""Fixtures of the hypervisor tests: real libvirtd, QEMU (TCG) and guests.

These tests run only when asked: set ``NOVA_VM_HEARTBEAT_HYPERVISOR=1``.
Otherwise every test here is skipped, with that as the reason. They all
carry the ``hypervisor`` marker, so ``-m hypervisor`` selects them and
``-m "not hypervisor"`` leaves them out.

Once enabled, the session

1. prepares the host with ``tools/prepare-host.sh`` (as root: installs
   QEMU and libvirt, starts virtlogd and libvirtd); not as root, it runs
   the script's ``--check`` and skips if the host is not ready;
2. builds the guest image with ``tools/guest-image/build.py``, or reuses
   the cached one, and copies it into a short work directory under
   ``/tmp`` that QEMU (user libvirt-qemu) can read;
3. opens ``qemu:///system`` with libvirt-python.

:func:`guest_factory` then starts guests; each one is destroyed and
undefined when its test ends, passed or failed, and its serial console is
printed (pytest shows it with a failure).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import typing

import pytest

from tests.functional.hypervisor import domains
from tests.functional.hypervisor import guests

ENABLE_VARIABLE = "NOVA_VM_HEARTBEAT_HYPERVISOR"
MARKER = "hypervisor"
HERE = pathlib.Path(__file__).resolve().parent
TOP = HERE.parents[2]
PREPARE_HOST = TOP / "tools" / "prepare-host.sh"
BUILD_IMAGE = TOP / "tools" / "guest-image" / "build.py"
#: How much of a guest's console a finished test prints.
CONSOLE_TAIL = 60


def enabled() -> bool:
    return os.environ.get(ENABLE_VARIABLE, "") not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "%s: needs real libvirtd and QEMU; runs only with %s=1"
        % (MARKER, ENABLE_VARIABLE))


def pytest_collection_modifyitems(config: pytest.Config,
                                  items: typing.List[pytest.Item]) -> None:
    skip = pytest.mark.skip(
        reason="hypervisor tests boot real guests (libvirtd + QEMU, as "
        "root): set %s=1 to run them" % ENABLE_VARIABLE)
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(MARKER)
            if not enabled():
                item.add_marker(skip)


def _run(argv: typing.Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)


@pytest.fixture(scope="session")
def prepared_host() -> None:
    """libvirtd and virtlogd run, and answer on qemu:///system."""
    if os.geteuid() != 0:
        result = _run([str(PREPARE_HOST), "--check"])
        if result.returncode != 0:
            pytest.skip("the host is not prepared and only root can prepare "
                        "it (sudo %s):\n%s" % (PREPARE_HOST, result.stdout))
        return
    result = _run([str(PREPARE_HOST)])
    print(result.stdout)
    if result.returncode != 0:
        pytest.fail("%s failed:\n%s" % (PREPARE_HOST, result.stdout))


@pytest.fixture(scope="session")
def workdir() -> typing.Iterator[pathlib.Path]:
    """A short, world-readable directory for images, sockets and logs.

    Unix socket paths hold 107 bytes; QEMU runs as libvirt-qemu and must
    be able to enter it.
    """
    path = pathlib.Path(tempfile.mkdtemp(prefix="hb-hv-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def guest_image(prepared_host: None,
                workdir: pathlib.Path) -> domains.GuestImage:
    """The guest image, built or reused from the cache.

    It is copied to ``workdir``: the cache is under a home directory that
    QEMU cannot read.
    """
    process = subprocess.run([sys.executable, str(BUILD_IMAGE)],
                             stdout=subprocess.PIPE, text=True, check=False)
    if process.returncode != 0:
        pytest.fail("%s failed (its output is above)" % BUILD_IMAGE)
    cached = pathlib.Path(process.stdout.strip().splitlines()[-1])
    manifest = json.loads((cached / "manifest.json").read_text())
    image = workdir / "image"
    image.mkdir(mode=0o755)
    for name in (manifest["vmlinuz"], manifest["initramfs"]):
        shutil.copy(cached / name, image / name)
    return domains.GuestImage(image / manifest["vmlinuz"],
                              image / manifest["initramfs"],
                              manifest["cmdline"])


@pytest.fixture(scope="session")
def libvirt_modules() -> guests.Libvirt:
    try:
        return guests.import_libvirt()
    except ImportError as err:
        pytest.skip("libvirt-python is not installed: %s" % err)


@pytest.fixture(scope="session")
def libvirt_connection(libvirt_modules: guests.Libvirt,
                       prepared_host: None) -> typing.Iterator[typing.Any]:
    connection = libvirt_modules.libvirt.open(guests.URI)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def guest_factory(libvirt_modules: guests.Libvirt,
                  libvirt_connection: typing.Any,
                  guest_image: domains.GuestImage,
                  workdir: pathlib.Path,
                  ) -> typing.Iterator[guests.GuestFactory]:
    """Starts guests: ``guest_factory(**DomainSpec fields)``.

    Every guest is destroyed and undefined when the test ends, and the
    end of its console is printed.
    """
    started: typing.List[guests.Guest] = []

    def start(**fields: typing.Any) -> guests.Guest:
        spec = domains.DomainSpec(image=guest_image, directory=workdir,
                                  **fields)
        guest = guests.Guest(libvirt_modules, libvirt_connection, spec)
        started.append(guest)
        return guest.start()

    try:
        yield start
    finally:
        for guest in started:
            guest.remove()
            lines = guest.console().splitlines()[-CONSOLE_TAIL:]
            print("---- console of %s (last %d lines) ----\n%s"
                  % (guest.name, len(lines), "\n".join(lines)))
