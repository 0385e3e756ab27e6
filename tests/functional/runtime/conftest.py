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

"""Fixtures of the runtime's functional tests.

Each "guest" is a real guest agent process behind a
:class:`~tests.functional.runtime.relay.ChardevRelay` (QEMU's part), and a
domain of a :class:`~tests.fakelibvirt.FakeLibvirt` whose XML carries the
relay's host socket as its heartbeat channel. The runtime under test finds
the domains through the real :class:`LibvirtSource`, connects to the
relays, challenges the agents, asks the fake QGA, samples the fake
statistics, and reports to a :class:`CollectingSink`.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import shutil
import tempfile
import threading
import time
import typing
import uuid as uuidlib

import pytest

from nova_vm_heartbeat import composition
from nova_vm_heartbeat.monitor.machine import MonitorState
from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.runtime.service import MonitorService
from nova_vm_heartbeat.sinks.base import Sink
from nova_vm_heartbeat.sources.impl_libvirt import LibvirtSource
from tests import fakelibvirt
from tests.functional.guest import harness
from tests.functional.runtime.relay import ChardevRelay

#: The longest any single wait of these tests lasts.
WAIT = 15.0
LOST = "instance.heartbeat_lost"
RESTORED = "instance.heartbeat_restored"

BOUNDS = Bounds(min_interval=1.0, min_timeout=0.5, min_failure_threshold=2,
                min_boot_grace=3.0, rearm_grace=3.0, max_lifecycle=60.0)
SETTINGS = Settings(interval=1.0, timeout=0.8, failure_threshold=3,
                    boot_grace=8.0, qga=True)
OPTIONS = RuntimeOptions(host="compute-1", bounds=BOUNDS, defaults=SETTINGS,
                         refresh_interval=0.5, stats_interval=0.5,
                         qga_workers=2, reconnect_max=2.0,
                         libvirt_uri="qemu:///system")


def wait_for(condition: typing.Callable[[], typing.Any],
             timeout: float = WAIT, what: str = "the condition") -> typing.Any:
    """Poll ``condition`` until it is true; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("%s did not happen within %g s"
                                 % (what, timeout))
        time.sleep(0.02)


class CollectingSink(Sink):
    """Keeps every notification, with the monotonic time it arrived."""

    def __init__(self) -> None:
        self.received: typing.List[typing.Tuple[float, Notification]] = []
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        with self._lock:
            self.received.append((time.monotonic(), notification))

    def of(self, uuid: str, event_type: typing.Optional[str] = None,
           ) -> typing.List[typing.Tuple[float, Notification]]:
        with self._lock:
            return [(at, n) for at, n in self.received
                    if n.payload["nova_object.data"]["instance_uuid"] == uuid
                    and event_type in (None, n.event_type)]

    def wait(self, uuid: str, event_type: str,
             timeout: float = WAIT) -> typing.Tuple[float, Notification]:
        found = wait_for(lambda: self.of(uuid, event_type), timeout,
                         "%s for %s" % (event_type, uuid))
        return typing.cast(typing.Tuple[float, Notification], found[0])


@dataclasses.dataclass
class Guest:
    """One instance: relay, agent process, fake domain."""

    uuid: str
    name: str
    workdir: pathlib.Path
    relay: ChardevRelay
    domain: fakelibvirt.Domain
    agent: typing.Optional[harness.AgentProcess] = None

    @property
    def host_path(self) -> str:
        return self.relay.paths["host"]


@pytest.fixture
def workdir() -> typing.Iterator[pathlib.Path]:
    path = tempfile.mkdtemp(prefix="hr-", dir="/tmp")
    try:
        yield pathlib.Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fake() -> typing.Iterator[fakelibvirt.FakeLibvirt]:
    libvirt = fakelibvirt.FakeLibvirt()
    try:
        yield libvirt
    finally:
        libvirt.release_hangs()


@pytest.fixture
def sink() -> CollectingSink:
    return CollectingSink()


GuestFactory = typing.Callable[..., Guest]


@pytest.fixture
def guests(workdir: pathlib.Path, fake: fakelibvirt.FakeLibvirt,
           ) -> typing.Iterator[GuestFactory]:
    """Makes guests; every relay and agent is stopped at the end."""
    made: typing.List[Guest] = []

    def make(agent: bool = True, qga: bool = True,
             qga_mode: str = "answer", cpu_rate: float = 0.05) -> Guest:
        index = len(made)
        home = workdir / ("g%d" % index)
        home.mkdir()
        relay = ChardevRelay(str(home / "hb.sock"), str(home / "port.sock"))
        relay.start()
        uuid = str(uuidlib.uuid4())
        name = "instance-%08x" % (index + 1)
        domain = fake.add_domain(
            uuid, name, fakelibvirt.domain_xml(
                uuid, name, relay.paths["host"], qga=qga,
                display_name="guest-%d" % index),
            qga=fakelibvirt.Qga(mode=qga_mode), cpu_rate=cpu_rate)
        guest = Guest(uuid, name, home, relay, domain)
        made.append(guest)
        if agent:
            guest.agent = harness.AgentProcess(home).start()
        return guest

    try:
        yield make
    finally:
        for guest in made:
            if guest.agent is not None:
                guest.agent.stop()
                print("---- agent log of %s ----\n%s"
                      % (guest.name, guest.agent.log()[-3000:]))
            guest.relay.stop()


ServiceFactory = typing.Callable[..., MonitorService]


@pytest.fixture
def service(fake: fakelibvirt.FakeLibvirt, sink: CollectingSink,
            ) -> typing.Iterator[ServiceFactory]:
    """Starts the monitor service; stops it (within 1 s) at the end."""
    started: typing.List[MonitorService] = []

    def start(options: RuntimeOptions = OPTIONS) -> MonitorService:
        source = LibvirtSource(options.libvirt_uri or "", options.defaults,
                               libvirt=fake, run_dir="/nonexistent")
        monitor = MonitorService(source, sink, options, libvirt=fake,
                                 endpoints=composition.endpoints(options))
        monitor.start()
        started.append(monitor)
        return monitor

    try:
        yield start
    finally:
        for monitor in started:
            began = time.monotonic()
            monitor.stop()
            elapsed = time.monotonic() - began
            monitor.source.close()
            assert elapsed < 1.0, "stop() took %.2f s" % elapsed


def state_of(monitor: MonitorService, uuid: str) -> typing.Optional[str]:
    for status in monitor.statuses():
        if status.uuid == uuid:
            return status.status.state.value
    return None


def wait_state(monitor: MonitorService, uuid: str, state: MonitorState,
               timeout: float = WAIT) -> None:
    wait_for(lambda: state_of(monitor, uuid) == state.value, timeout,
             "%s becoming %s (now %s)" % (uuid, state.value,
                                          state_of(monitor, uuid)))


@pytest.fixture(autouse=True)
def runtime_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="nova_vm_heartbeat")
