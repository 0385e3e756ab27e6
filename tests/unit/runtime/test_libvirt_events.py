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

"""libvirt events: the mapping, and the event thread against a fake."""

from __future__ import annotations

import logging
import threading
import time
import typing

import pytest

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.runtime import libvirt_events
from tests import fakelibvirt

C = fakelibvirt.C
L = sig.Lifecycle
UUID = "11111111-1111-4111-8111-111111111111"
LIBVIRT = fakelibvirt.FakeLibvirt()


@pytest.mark.parametrize("event,detail,expected", [
    (C.VIR_DOMAIN_EVENT_STARTED, C.VIR_DOMAIN_EVENT_STARTED_BOOTED,
     sig.DomainEvent(L.STARTED, "booted")),
    (C.VIR_DOMAIN_EVENT_SUSPENDED, C.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED,
     sig.DomainEvent(L.PAUSED, "migrated")),
    (C.VIR_DOMAIN_EVENT_RESUMED, C.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED,
     sig.DomainEvent(L.RESUMED, "unpaused")),
    (C.VIR_DOMAIN_EVENT_STOPPED, C.VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
     sig.DomainEvent(L.STOPPED, "destroyed")),
    (C.VIR_DOMAIN_EVENT_STOPPED, C.VIR_DOMAIN_EVENT_STOPPED_CRASHED,
     sig.DomainEvent(L.CRASHED, "crashed")),
    (C.VIR_DOMAIN_EVENT_STOPPED, C.VIR_DOMAIN_EVENT_STOPPED_FAILED,
     sig.DomainEvent(L.CRASHED, "failed")),
    (C.VIR_DOMAIN_EVENT_STOPPED, C.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN,
     sig.DomainEvent(L.STOPPED, "shutdown")),
    (C.VIR_DOMAIN_EVENT_SHUTDOWN, C.VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED,
     sig.DomainEvent(L.SHUTTING_DOWN, "finished")),
    (C.VIR_DOMAIN_EVENT_SHUTDOWN, C.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST,
     sig.DomainEvent(L.SHUTTING_DOWN, "guest")),
    (C.VIR_DOMAIN_EVENT_PMSUSPENDED, C.VIR_DOMAIN_EVENT_PMSUSPENDED_MEMORY,
     sig.DomainEvent(L.PAUSED, "memory")),
    (C.VIR_DOMAIN_EVENT_CRASHED, C.VIR_DOMAIN_EVENT_CRASHED_PANICKED,
     sig.DomainEvent(L.CRASHED, "panicked")),
    (C.VIR_DOMAIN_EVENT_STARTED, 99, sig.DomainEvent(L.STARTED, "99")),
    (C.VIR_DOMAIN_EVENT_DEFINED, 0, None),
    (C.VIR_DOMAIN_EVENT_UNDEFINED, 0, None),
    (42, 0, None),
])
def test_lifecycle_mapping(event: int, detail: int,
                           expected: typing.Optional[sig.DomainEvent]
                           ) -> None:
    assert libvirt_events.lifecycle_signal(LIBVIRT, event, detail) \
        == expected


class Feed:
    def __init__(self) -> None:
        self.fake = fakelibvirt.FakeLibvirt()
        self.fake.add_domain(UUID, "instance-1", "<domain/>")
        self.posted: typing.List[typing.Tuple[str, sig.Signal]] = []
        self.restored = threading.Event()
        self.feed = libvirt_events.EventFeed(
            self.fake, "qemu:///system", self.post, self.restored.set,
            reconnect_max=0.5)

    def post(self, uuid: str, signal: sig.Signal) -> None:
        self.posted.append((uuid, signal))

    def wait_posted(self, count: int) -> None:
        deadline = time.monotonic() + 5.0
        while len(self.posted) < count:
            assert time.monotonic() < deadline, self.posted
            time.sleep(0.01)

    def wait_connected(self) -> None:
        deadline = time.monotonic() + 5.0
        while not self.fake.connections():
            assert time.monotonic() < deadline
            time.sleep(0.01)


@pytest.fixture
def feed() -> typing.Iterator[Feed]:
    harness = Feed()
    harness.feed.start()
    harness.wait_connected()
    try:
        yield harness
    finally:
        began = time.monotonic()
        harness.feed.stop()
        assert time.monotonic() - began < 1.0


def test_events_are_posted(feed: Feed) -> None:
    feed.fake.fire_lifecycle(UUID, C.VIR_DOMAIN_EVENT_SUSPENDED,
                             C.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)
    feed.fake.fire_reboot(UUID)
    feed.fake.fire_agent_lifecycle(UUID, connected=False)
    feed.fake.fire_lifecycle(UUID, C.VIR_DOMAIN_EVENT_DEFINED, 0)
    feed.fake.fire_agent_lifecycle(UUID, connected=True)
    feed.wait_posted(4)
    assert feed.posted == [
        (UUID, sig.DomainEvent(L.PAUSED, "paused")),
        (UUID, sig.DomainEvent(L.REBOOTED)),
        (UUID, sig.QgaLifecycle(False)),
        (UUID, sig.QgaLifecycle(True)),
    ]


def test_libvirtd_restart_is_logged_once_and_forgiven(
        feed: Feed, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        feed.fake.stop_daemon()
        time.sleep(1.0)  # several failed attempts
        assert not feed.restored.is_set()
        feed.fake.start_daemon()
        assert feed.restored.wait(5.0)
    assert caplog.text.count("Lost the libvirt connection") == 1
    assert caplog.text.count("are back") == 1
    feed.wait_connected()
    feed.fake.fire_reboot(UUID)
    feed.wait_posted(1)


def test_a_failing_post_does_not_stop_the_feed(
        feed: Feed, caplog: pytest.LogCaptureFixture) -> None:
    def broken(uuid: str, signal: sig.Signal) -> None:
        raise RuntimeError("bug")

    feed.feed._post = broken
    feed.fake.fire_reboot(UUID)
    time.sleep(0.3)
    feed.feed._post = feed.post
    feed.fake.fire_reboot(UUID)
    feed.wait_posted(1)
    assert "Could not deliver" in caplog.text


def test_the_event_loop_is_registered_once_per_module() -> None:
    fake = fakelibvirt.FakeLibvirt()
    calls = []
    fake.virEventRegisterDefaultImpl = lambda: calls.append(1)  # type: ignore
    libvirt_events.register_event_loop(fake)
    libvirt_events.register_event_loop(fake)
    assert calls == [1]


def test_stop_without_start_and_twice() -> None:
    harness = Feed()
    harness.feed.stop()
    harness.feed.stop()
