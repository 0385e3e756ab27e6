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

import contextlib
import os
import pathlib
import tempfile
import typing

import pytest

from tests.functional.fixtures import RabbitMQ
from tests.functional.hypervisor import domains
from tests.functional.hypervisor import guests
from tests.functional.hypervisor import host
from tests.functional.hypervisor import lab as lab_
from tests.functional.hypervisor import monitor as mon

ENABLE_VARIABLE = "NOVA_VM_HEARTBEAT_HYPERVISOR"
MARKER = "hypervisor"
HERE = pathlib.Path(__file__).resolve().parent
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


@pytest.fixture(scope="session")
def prepared_host() -> None:
    """libvirtd and virtlogd run, and answer on qemu:///system."""
    try:
        print(host.prepare())
    except host.HostError as err:
        if os.geteuid() != 0:
            pytest.skip(str(err))
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def workdir() -> typing.Iterator[pathlib.Path]:
    """A short, world-readable directory for images, sockets and logs."""
    with host.workdir("hb-hv-") as path:
        yield path


@pytest.fixture(scope="session")
def guest_image(prepared_host: None,
                workdir: pathlib.Path) -> domains.GuestImage:
    """The guest image, built or reused from the cache, in ``workdir``."""
    try:
        return host.install_image(host.cached_image(), workdir / "image")
    except host.HostError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def libvirt_modules() -> guests.Libvirt:
    try:
        return guests.import_libvirt()
    except ImportError as err:
        pytest.skip("libvirt-python is not installed: %s" % err)


@pytest.fixture(scope="session")
def libvirt_connection(libvirt_modules: guests.Libvirt,
                       prepared_host: None,
                       ) -> typing.Iterator[guests.Connection]:
    connection = guests.Connection(libvirt_modules)
    try:
        yield connection
    finally:
        connection.close()


class GuestStarter:
    """Starts guests; :meth:`remove_all` removes them all.

    The end of each removed guest's console is printed.
    """

    def __init__(self, modules: guests.Libvirt,
                 connection: guests.Connection,
                 image: domains.GuestImage, directory: pathlib.Path):
        self.modules = modules
        self.connection = connection
        self.image = image
        self.directory = directory
        self.started: typing.List[guests.Guest] = []

    def __call__(self, spec_type: typing.Type[domains.DomainSpec]
                 = domains.DomainSpec,
                 **fields: typing.Any) -> guests.Guest:
        spec = spec_type(image=self.image, directory=self.directory,
                         **fields)
        guest = guests.Guest(self.modules, self.connection.get(), spec)
        self.started.append(guest)
        return guest.start()

    def remove_all(self, consoles: bool = True) -> None:
        for guest in self.started:
            guest.remove()
            if consoles:
                lines = guest.console().splitlines()[-CONSOLE_TAIL:]
                print("---- console of %s (last %d lines) ----\n%s"
                      % (guest.name, len(lines), "\n".join(lines)))
        self.started.clear()


@contextlib.contextmanager
def _starting(modules: guests.Libvirt, connection: guests.Connection,
              image: domains.GuestImage, directory: pathlib.Path,
              ) -> typing.Iterator[GuestStarter]:
    starter = GuestStarter(modules, connection, image, directory)
    try:
        yield starter
    finally:
        starter.remove_all()


@pytest.fixture
def guest_factory(libvirt_modules: guests.Libvirt,
                  libvirt_connection: guests.Connection,
                  guest_image: domains.GuestImage,
                  workdir: pathlib.Path,
                  ) -> typing.Iterator[guests.GuestFactory]:
    """Starts guests: ``guest_factory(**DomainSpec fields)``.

    ``spec_type`` (a DomainSpec subclass) may say who writes the XML.

    Every guest is destroyed and undefined when the test ends, passed or
    failed, and the end of its console is printed.
    """
    with _starting(libvirt_modules, libvirt_connection, guest_image,
                   workdir) as starter:
        yield starter


@pytest.fixture(scope="module")
def module_guest_factory(libvirt_modules: guests.Libvirt,
                         libvirt_connection: guests.Connection,
                         guest_image: domains.GuestImage,
                         workdir: pathlib.Path,
                         ) -> typing.Iterator[guests.GuestFactory]:
    """Like :func:`guest_factory`, for guests that last a whole module."""
    with _starting(libvirt_modules, libvirt_connection, guest_image,
                   workdir) as starter:
        yield starter


@pytest.fixture(scope="module")
def module_broker(rabbitmq: RabbitMQ) -> typing.Iterator[RabbitMQ]:
    """The broker, held for a whole module."""
    with rabbitmq.using():
        yield rabbitmq


@pytest.fixture(scope="module")
def bus(module_broker: RabbitMQ,
        tmp_path_factory: pytest.TempPathFactory,
        ) -> typing.Iterator[mon.BusWatcher]:
    """Every notification on Nova's versioned topic, from now on."""
    with mon.watching(module_broker,
                      tmp_path_factory.mktemp("bus")) as watcher:
        yield watcher


@pytest.fixture(scope="module")
def monitor_options() -> typing.Dict[str, typing.Dict[str, object]]:
    """Options of the module's monitor beyond the lab's (by group)."""
    return {}


@pytest.fixture(scope="module")
def standalone_monitor(module_broker: RabbitMQ, prepared_host: None,
                       workdir: pathlib.Path, bus: mon.BusWatcher,
                       monitor_options: typing.Dict[
                           str, typing.Dict[str, object]],
                       ) -> typing.Iterator[mon.MonitorProcess]:
    """``nova-vm-heartbeat-monitor`` on qemu:///system and the broker."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="monitor-",
                                              dir=workdir))
    process = mon.MonitorProcess(directory, module_broker.url,
                                 options=monitor_options)
    process.start()
    try:
        yield process
    finally:
        status = process.stop()
        kept = host.TOP / "build" / "hypervisor" / "monitor.log"
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(process.log())
        print("---- monitor log (end; all of it in %s) ----\n%s"
              % (kept, process.log()[-6000:]))
        assert status == 0, "the monitor exited with %d" % status


@pytest.fixture(scope="module")
def lab(standalone_monitor: mon.MonitorProcess,
        bus: mon.BusWatcher) -> lab_.Lab:
    """The standalone monitor and the bus it publishes on."""
    return lab_.Lab(standalone_monitor, bus)
