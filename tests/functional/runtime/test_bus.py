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

"""The runtime end to end onto a real RabbitMQ, outages included.

Real guest agents behind the chardev relays, the fake libvirt for QGA and
statistics, the real messaging sink with its on-disk outbox, and a real
oslo.messaging notification listener on Nova's exchange: what a Vitrage
or the Masakari bridge would receive.
"""

from __future__ import annotations

import pathlib
import signal
import time
import typing

import pytest

from nova_vm_heartbeat.monitor.machine import MonitorState as S
from nova_vm_heartbeat.runtime.service import MonitorService
from nova_vm_heartbeat.sinks import impl_messaging
from nova_vm_heartbeat.sources.impl_libvirt import LibvirtSource
from tests import fakelibvirt
from tests.functional.fixtures import RabbitMQ
from tests.functional.fixtures import wait_until
from tests.functional.runtime import conftest as cf
from tests.functional.sinks.test_messaging import Endpoint
from tests.functional.sinks.test_messaging import listening
from tests.functional.sinks.test_messaging import make_conf
from tests.functional.sinks.test_messaging import waiting_files

LIMIT = cf.SETTINGS.interval * cf.SETTINGS.failure_threshold + 0.5


class Arrivals(Endpoint):
    """The listener's endpoint, with the monotonic time of each arrival."""

    def __init__(self, prefix: str):
        super().__init__(prefix)
        self.times: typing.List[float] = []

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        super().info(ctxt, publisher_id, event_type, payload, metadata)
        with self.lock:
            while len(self.times) < len(self.received):
                self.times.append(time.monotonic())

    def events(self) -> typing.List[str]:
        with self.lock:
            return [r["event_type"] for r in self.received]

    def arrival(self, event_type: str) -> float:
        with self.lock:
            for received, at in zip(self.received, self.times):
                if received["event_type"] == event_type:
                    return at
        raise AssertionError("no %s arrived" % event_type)


@pytest.fixture
def guest(guests: cf.GuestFactory) -> cf.Guest:
    return guests()


@pytest.fixture
def arrivals(broker: RabbitMQ, tmp_path: pathlib.Path,
             guest: cf.Guest) -> typing.Iterator[Arrivals]:
    """A real listener that keeps this test's instance only."""
    with listening(broker, tmp_path / "listener.conf",
                   Arrivals(guest.uuid)) as endpoint:
        yield typing.cast(Arrivals, endpoint)


@pytest.fixture
def outbox_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "outbox"


@pytest.fixture
def monitor(broker: RabbitMQ, fake: fakelibvirt.FakeLibvirt,
            tmp_path: pathlib.Path, outbox_dir: pathlib.Path,
            ) -> typing.Iterator[MonitorService]:
    """The runtime with the messaging sink, as the standalone monitor."""
    conf = make_conf(tmp_path / "monitor.conf", broker.url,
                     heartbeat_sink={"outbox_dir": str(outbox_dir)})
    options = cf.OPTIONS
    source = LibvirtSource(options.libvirt_uri or "", options.defaults,
                           libvirt=fake, run_dir="/nonexistent")
    service = MonitorService(source, impl_messaging.MessagingSink(conf),
                             options, libvirt=fake)
    service.start()
    try:
        yield service
    finally:
        began = time.monotonic()
        service.stop()
        source.close()
        assert time.monotonic() - began < 1.5


def test_lost_and_restored_arrive_on_the_bus(
        guest: cf.Guest, monitor: MonitorService,
        arrivals: Arrivals) -> None:
    assert guest.agent is not None
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    stopped_at = time.monotonic()
    guest.agent.signal(signal.SIGSTOP)
    wait_until(lambda: "instance.heartbeat_lost" in arrivals.events(),
               cf.WAIT, "heartbeat_lost on the bus")
    latency = arrivals.arrival("instance.heartbeat_lost") - stopped_at
    print("heartbeat_lost on the bus %.3f s after SIGSTOP (limit %.1f s)"
          % (latency, LIMIT))
    assert latency <= LIMIT
    resumed_at = time.monotonic()
    guest.agent.signal(signal.SIGCONT)
    wait_until(lambda: "instance.heartbeat_restored" in arrivals.events(),
               cf.WAIT, "heartbeat_restored on the bus")
    print("heartbeat_restored on the bus %.3f s after SIGCONT"
          % (arrivals.arrival("instance.heartbeat_restored") - resumed_at))
    time.sleep(2.0)
    assert arrivals.events() == ["instance.heartbeat_lost",
                                 "instance.heartbeat_restored"]
    [lost, restored] = arrivals.received
    assert lost["publisher_id"] == "nova-compute:compute-1"
    data = lost["payload"]["nova_object.data"]
    assert data["fault_class"] == "agent_failure"
    assert data["instance_uuid"] == guest.uuid
    assert restored["payload"]["nova_object.data"]["episode"] == \
        data["episode"]


def test_verdicts_wait_in_the_outbox_while_the_broker_is_down(
        guest: cf.Guest, monitor: MonitorService, broker: RabbitMQ,
        arrivals: Arrivals, outbox_dir: pathlib.Path) -> None:
    assert guest.agent is not None
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    with broker.outage():
        guest.agent.signal(signal.SIGSTOP)
        cf.wait_state(monitor, guest.uuid, S.FAILED)
        guest.agent.signal(signal.SIGCONT)
        cf.wait_state(monitor, guest.uuid, S.HEALTHY)
        # The state is read from another thread: it can show "healthy"
        # a moment before the loop hands heartbeat_restored to the sink.
        wait_until(lambda: len(waiting_files(outbox_dir)) >= 2, cf.WAIT,
                   "heartbeat_restored in the outbox")
        waiting = waiting_files(outbox_dir)
        print("in the outbox during the outage: %s" % waiting)
        assert len(waiting) == 2
        assert arrivals.events() == []
        back = time.monotonic()
    took = wait_until(lambda: len(arrivals.events()) == 2, 60,
                      "both verdicts after the outage")
    print("both verdicts delivered %.2f s after the broker came back"
          % (time.monotonic() - back))
    assert took < 60
    assert arrivals.events() == ["instance.heartbeat_lost",
                                 "instance.heartbeat_restored"]
    assert waiting_files(outbox_dir) == []
