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

"""The sink inside nova-compute: a queue and one thread in front of Nova."""

from __future__ import annotations

import threading
import typing

import pytest

from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.virt import sink as nova_sink
from tests import notification_samples as samples


class RecordingSink(nova_sink.NovaSink):
    """The real sink, with Nova's notifier replaced by a list."""

    def __init__(self, max_queued: int = 8,
                 gate: typing.Optional[threading.Event] = None):
        super().__init__(max_queued)
        self.emitted_notes: typing.List[Notification] = []
        self.gate = gate
        self.done = threading.Event()

    def _emit(self, note: Notification) -> None:
        if self.gate is not None:
            self.gate.wait(5.0)
        self.emitted_notes.append(note)
        self.done.set()


@pytest.fixture
def note() -> Notification:
    return Notification.from_dict(samples.load("instance-heartbeat_lost"))


def test_send_hands_over_and_the_thread_emits(note) -> None:
    sink = RecordingSink()
    sink.start()
    sink.send(note)
    assert sink.done.wait(5.0)
    sink.stop()
    assert sink.emitted_notes == [note]


def test_a_full_queue_drops_with_an_error(note, caplog) -> None:
    gate = threading.Event()
    sink = RecordingSink(max_queued=1, gate=gate)
    sink.start()
    for _ in range(4):  # one emitting (blocked), one queued, two dropped
        sink.send(note)
    gate.set()
    sink.stop()
    assert 1 <= len(sink.emitted_notes) <= 2
    assert "queue is full" in caplog.text
    assert note.payload["nova_object.data"]["instance_uuid"] in caplog.text


def test_stop_returns_when_never_started() -> None:
    nova_sink.NovaSink().stop()


def test_what_nova_does_not_send_is_not_counted_as_sent(note) -> None:
    # Nova's default notification_format ("unversioned") makes Nova's
    # emit() return without sending anything.
    sink = nova_sink.NovaSink()
    assert not nova_sink.sending()
    sink._emit(note)
    assert (sink.emitted, sink.unsent) == (0, 1)
