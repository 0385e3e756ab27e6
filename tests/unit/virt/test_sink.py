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

"""The sink inside nova-compute: a durable outbox in front of Nova."""

from __future__ import annotations

import dataclasses
import os
import threading
import typing

import pytest

from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.virt import notifications
from nova_vm_heartbeat.virt import sink as nova_sink
from tests import notification_samples as samples
from tests.unit.sinks.helpers import wait_until


class RecordingSink(nova_sink.NovaSink):
    """The real sink, with Nova's notifier replaced by a list.

    What it records are the Nova notification objects the real sink made.
    """

    def __init__(self, directory: str, outbox_max: int = 10000,
                 gate: typing.Optional[threading.Event] = None):
        super().__init__(directory, outbox_max)
        self.emitted_notes: typing.List[
            notifications.InstanceHeartbeatNotification] = []
        self.gate = gate

    def _emit(self, nova_note: notifications.InstanceHeartbeatNotification
              ) -> None:
        if self.gate is not None:
            self.gate.wait(10.0)
        self.emitted_notes.append(nova_note)

    def uuids(self) -> typing.List[str]:
        return [n.payload.instance_uuid for n in self.emitted_notes]


@pytest.fixture
def note() -> Notification:
    return Notification.from_dict(samples.load("instance-heartbeat_lost"))


@pytest.fixture
def directory(tmp_path) -> str:
    return str(tmp_path / "outbox")


def instance(number: int) -> str:
    return "00000000-0000-4000-8000-%012d" % number


def sent(sink: nova_sink.NovaSink, count: int, note: Notification) -> None:
    for number in range(count):
        sink.send(numbered(note, number))


def numbered(note: Notification, number: int) -> Notification:
    data = dict(note.payload["nova_object.data"])
    data["instance_uuid"] = instance(number)
    payload = dict(note.payload, **{"nova_object.data": data})
    return dataclasses.replace(note, payload=payload)


def test_send_hands_over_and_the_outbox_emits(note, directory) -> None:
    sink = RecordingSink(directory)
    sink.start()
    sink.send(note)
    wait_until(lambda: sink.emitted == 1)
    sink.stop()
    [emitted] = sink.emitted_notes
    assert emitted.payload.instance_uuid == (
        note.payload["nova_object.data"]["instance_uuid"])
    assert emitted.event_type.to_notification_event_type_field() == (
        note.event_type)
    assert os.listdir(directory) == []


def test_nothing_is_dropped_while_nova_blocks(note, directory) -> None:
    """The old in-memory queue held 1,000 and dropped the newest."""
    gate = threading.Event()
    sink = RecordingSink(directory, gate=gate)
    sink.start()
    try:
        sent(sink, 1500, note)
        assert sink.depth() == 1500
        gate.set()
        wait_until(lambda: sink.emitted == 1500, timeout=60.0)
    finally:
        gate.set()
        sink.stop()
    assert sink.uuids() == [instance(n) for n in range(1500)]


def test_notifications_survive_a_crash_of_nova_compute(
        note, directory) -> None:
    """nova-compute dies while Nova's notifier is blocked, then starts."""
    gate = threading.Event()
    old = RecordingSink(directory, gate=gate)
    old.start()
    try:
        sent(old, 3, note)
        assert old.outbox.flush()
        # Here the process dies: nothing reached Nova's notifier.
        new = RecordingSink(directory)
        assert new.depth() == 3
        new.start()
        wait_until(lambda: new.emitted == 3)
        new.stop()
    finally:
        gate.set()
        old.stop()
    assert new.uuids() == [instance(n) for n in range(3)]


def test_a_clean_stop_keeps_what_was_not_emitted(note, directory) -> None:
    old = RecordingSink(directory)
    sent(old, 2, note)
    old.stop()  # never started: nothing emitted, everything on disk
    new = RecordingSink(directory)
    new.start()
    try:
        wait_until(lambda: new.emitted == 2)
    finally:
        new.stop()
    assert old.emitted_notes == []
    assert os.listdir(directory) == []


def test_a_notification_nova_cannot_represent_is_set_aside(
        note, directory) -> None:
    data = dict(note.payload["nova_object.data"], fault_class="bored")
    bad = dataclasses.replace(
        note, payload=dict(note.payload, **{"nova_object.data": data}))
    sink = RecordingSink(directory)
    sink.start()
    try:
        sink.send(bad)
        sink.send(note)
        wait_until(lambda: sink.emitted == 1)
    finally:
        sink.stop()
    assert [name.endswith(".json.bad") for name in os.listdir(directory)] \
        == [True]


def test_stop_returns_when_never_started(directory) -> None:
    nova_sink.NovaSink(directory).stop()


def test_what_nova_does_not_send_is_not_counted_as_sent(
        note, directory) -> None:
    # Nova's default notification_format ("unversioned") makes Nova's
    # emit() return without sending anything.
    sink = nova_sink.NovaSink(directory)
    assert not nova_sink.sending()
    sink.send(note)
    sink.start()
    try:
        wait_until(lambda: sink.unsent == 1)
    finally:
        sink.stop()
    assert sink.emitted == 0
