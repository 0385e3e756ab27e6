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

"""The outbox: order, durability, its bound, damaged files, back-off."""

from __future__ import annotations

import json
import logging
import os
import pathlib
import threading
import time
import typing

import pytest

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.sinks import outbox as outbox_mod
from nova_vm_heartbeat.sinks import spool as spool_mod
from tests.unit.sinks.helpers import notification
from tests.unit.sinks.helpers import wait_until


class Destination:
    """Records what it is given; fails while ``failures`` is positive."""

    def __init__(self, failures: int = 0,
                 rejected: typing.Collection[str] = ()):
        self.failures = failures
        self.rejected = set(rejected)
        self.received: typing.List[Notification] = []
        self.attempts: typing.List[Notification] = []

    def __call__(self, notification: Notification) -> None:
        self.attempts.append(notification)
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("broker down")
        if instance_of(notification) in self.rejected:
            raise exception.Undeliverable(
                event_type=notification.event_type, reason="rejected")
        self.received.append(notification)

    def instances(self) -> typing.List[str]:
        return [instance_of(n) for n in self.received]


def instance_of(notification: Notification) -> str:
    return str(notification.payload["nova_object.data"]["instance_uuid"])


class InstantOutbox(outbox_mod.Outbox):
    """An outbox whose back-off pauses are recorded, not slept."""

    def __init__(self, *args: typing.Any, **kwargs: typing.Any):
        super().__init__(*args, **kwargs)
        self.pauses: typing.List[float] = []

    def _pause(self, delay: float) -> bool:
        self.pauses.append(delay)
        return self._stopping.is_set()


@pytest.fixture
def directory(tmp_path: pathlib.Path) -> str:
    return str(tmp_path / "outbox")


@pytest.fixture
def stopped() -> typing.Iterator[typing.List[outbox_mod.Outbox]]:
    """Outboxes to stop when the test ends."""
    boxes: typing.List[outbox_mod.Outbox] = []
    yield boxes
    for box in boxes:
        box.stop()


def files(directory: str, suffix: str = ".json") -> typing.List[str]:
    return sorted(name for name in os.listdir(directory)
                  if name.endswith(suffix))


def test_put_returns_before_delivery_and_keeps_a_file(directory):
    destination = Destination()
    box = outbox_mod.Outbox(directory, destination)
    box.put(notification(1))
    assert box.flush()
    assert files(directory) == ["00000000000000000001.json"]
    assert destination.attempts == []
    with open(os.path.join(directory, files(directory)[0])) as stream:
        assert json.load(stream) == notification(1).to_dict()
    assert box.depth() == 1


def test_delivers_oldest_first_and_deletes(directory, stopped):
    destination = Destination()
    box = outbox_mod.Outbox(directory, destination)
    stopped.append(box)
    for number in range(5):
        box.put(notification(number))
    box.start()
    wait_until(lambda: len(destination.received) == 5)
    box.put(notification(5))
    wait_until(lambda: len(destination.received) == 6)
    assert destination.instances() == ["instance-%d" % n for n in range(6)]
    wait_until(lambda: files(directory) == [])
    wait_until(lambda: box.depth() == 0)
    assert box.delivered == 6


def test_a_new_outbox_delivers_what_the_old_one_left(directory, stopped):
    old = outbox_mod.Outbox(directory, Destination())
    for number in range(3):
        old.put(notification(number))
    assert old.flush()
    destination = Destination()
    new = outbox_mod.Outbox(directory, destination)
    stopped.append(new)
    assert new.depth() == 3
    new.put(notification(3))
    assert new.flush()
    assert files(directory)[-1] == "00000000000000000004.json"
    new.start()
    wait_until(lambda: len(destination.received) == 4)
    assert destination.instances() == ["instance-%d" % n for n in range(4)]


def test_sequence_continues_after_everything_was_delivered(directory,
                                                           stopped):
    first = outbox_mod.Outbox(directory, Destination())
    first.put(notification(1))
    first.put(notification(2))
    assert first.flush()
    os.rename(os.path.join(directory, "00000000000000000002.json"),
              os.path.join(directory, "00000000000000000002.json.bad"))
    second = outbox_mod.Outbox(directory, Destination())
    second.put(notification(3))
    assert second.flush()
    assert files(directory) == ["00000000000000000001.json",
                                "00000000000000000003.json"]


def test_leftover_temporary_files_are_removed(directory):
    os.makedirs(directory)
    leftover = os.path.join(directory, ".tmp-00000000000000000007.json")
    with open(leftover, "w") as stream:
        stream.write("{\"half")
    box = outbox_mod.Outbox(directory, Destination())
    assert box.depth() == 0
    assert not os.path.exists(leftover)


def test_full_outbox_drops_the_oldest(directory, stopped, caplog):
    destination = Destination()
    box = outbox_mod.Outbox(directory, destination, max_items=3)
    stopped.append(box)
    with caplog.at_level(logging.ERROR, logger=outbox_mod.__name__):
        for number in range(5):
            box.put(notification(number))
        # The bound applies to a batch once the writer wrote it.
        assert box.flush()
    assert box.depth() == 3
    assert box.dropped == 2
    assert len(files(directory)) == 3
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 2
    # The oldest *waiting* goes: one in the writer's hands at that moment
    # waits for its turn, so the two oldest may go in either order.
    assert sorted(e.split("for instance ")[1].split(" ")[0]
                  for e in errors) == ["instance-0", "instance-1"]
    assert "2 dropped so far" in errors[1]
    box.start()
    wait_until(lambda: len(destination.received) == 3)
    assert destination.instances() == ["instance-2", "instance-3",
                                       "instance-4"]


def test_bound_applies_to_what_a_previous_run_left(directory, caplog):
    old = outbox_mod.Outbox(directory, Destination())
    for number in range(4):
        old.put(notification(number))
    assert old.flush()
    with caplog.at_level(logging.ERROR, logger=outbox_mod.__name__):
        new = outbox_mod.Outbox(directory, Destination(), max_items=2)
        assert new.depth() == 2
    assert new.dropped == 2
    assert new.flush()
    assert files(directory) == ["00000000000000000003.json",
                                "00000000000000000004.json"]


@pytest.mark.parametrize("content", [
    b"not json", b"\xff\xfe", b"[1, 2]", b"{\"event_type\": \"x\"}",
    b"{\"event_type\": \"x\", \"publisher_id\": \"p\", \"payload\": 3}",
])
def test_damaged_file_is_set_aside(directory, stopped, caplog, content):
    os.makedirs(directory)
    with open(os.path.join(directory, "00000000000000000001.json"),
              "wb") as stream:
        stream.write(content)
    destination = Destination()
    box = outbox_mod.Outbox(directory, destination)
    stopped.append(box)
    box.put(notification(2))
    with caplog.at_level(logging.ERROR, logger=outbox_mod.__name__):
        box.start()
        wait_until(lambda: len(destination.received) == 1)
    assert destination.instances() == ["instance-2"]
    assert files(directory, ".bad") == ["00000000000000000001.json.bad"]
    assert "00000000000000000001.json" in caplog.text
    assert "will not be retried" in caplog.text
    wait_until(lambda: files(directory) == [])


def test_undeliverable_notification_is_set_aside(directory, stopped):
    destination = Destination(rejected={"instance-1"})
    box = outbox_mod.Outbox(directory, destination)
    stopped.append(box)
    for number in range(3):
        box.put(notification(number))
    box.start()
    wait_until(lambda: len(destination.received) == 2)
    assert destination.instances() == ["instance-0", "instance-2"]
    assert files(directory, ".bad") == ["00000000000000000002.json.bad"]


def test_backs_off_and_retries_the_same_notification(directory, stopped):
    destination = Destination(failures=8)
    box = InstantOutbox(directory, destination)
    stopped.append(box)
    box.put(notification(1))
    box.put(notification(2))
    box.start()
    wait_until(lambda: len(destination.received) == 2)
    assert box.pauses == [1, 2, 4, 8, 16, 30, 30, 30]
    assert [instance_of(n) for n in destination.attempts[:9]] == (
        ["instance-1"] * 9)
    assert destination.instances() == ["instance-1", "instance-2"]


def test_back_off_starts_over_after_a_success(directory, stopped):
    destination = Destination(failures=3)
    box = InstantOutbox(directory, destination)
    stopped.append(box)
    box.put(notification(1))
    box.start()
    wait_until(lambda: len(destination.received) == 1)
    destination.failures = 2
    box.put(notification(2))
    wait_until(lambda: len(destination.received) == 2)
    assert box.pauses == [1, 2, 4, 1, 2]


def test_failed_notification_may_be_dropped_when_full(directory, stopped):
    destination = Destination(failures=1)
    release = threading.Event()

    class Gated(InstantOutbox):
        def _pause(self, delay: float) -> bool:
            release.wait(5)
            return super()._pause(delay)

    box = Gated(directory, destination, max_items=2)
    stopped.append(box)
    box.put(notification(1))
    box.start()
    wait_until(lambda: len(destination.attempts) == 1)
    box.put(notification(2))
    box.put(notification(3))
    release.set()
    wait_until(lambda: len(destination.received) == 2)
    assert destination.instances() == ["instance-2", "instance-3"]
    assert box.dropped == 1


def test_stop_returns_quickly_while_backing_off(directory):
    destination = Destination(failures=1000)
    box = outbox_mod.Outbox(directory, destination, backoff_initial=30.0)
    box.put(notification(1))
    box.start()
    wait_until(lambda: len(destination.attempts) == 1)
    started = time.monotonic()
    assert box.stop() is True
    assert time.monotonic() - started < 1.0
    assert files(directory) == ["00000000000000000001.json"]


def test_stop_does_not_wait_for_a_blocked_delivery(directory):
    entered, release = threading.Event(), threading.Event()
    delivered: typing.List[Notification] = []

    def blocking(notification: Notification) -> None:
        entered.set()
        release.wait(10)
        delivered.append(notification)

    box = outbox_mod.Outbox(directory, blocking)
    box.put(notification(1))
    box.put(notification(2))
    box.start()
    assert entered.wait(5)
    started = time.monotonic()
    assert box.stop(timeout=0.2) is False
    assert time.monotonic() - started < 1.0
    release.set()
    wait_until(lambda: files(directory) == ["00000000000000000002.json"])
    assert len(delivered) == 1


def test_start_and_stop_are_idempotent(directory):
    box = outbox_mod.Outbox(directory, Destination())
    assert box.stop() is True
    box.start()
    thread = box._thread
    box.start()
    assert box._thread is thread
    assert box.stop() is True
    assert box.stop() is True


def test_restart_after_stop(directory):
    destination = Destination()
    box = outbox_mod.Outbox(directory, destination)
    box.start()
    box.stop()
    box.put(notification(1))
    box.start()
    try:
        wait_until(lambda: len(destination.received) == 1)
    finally:
        box.stop()


def test_write_failure_loses_one_notification_without_raising(
        directory, caplog):
    class FullDisk(spool_mod.Spool):
        def _write(self, sequence: int, notification: Notification) -> None:
            raise OSError(28, "No space left on device")

    box = outbox_mod.Outbox(directory, Destination())
    box._spool = FullDisk(directory)
    with caplog.at_level(logging.ERROR, logger=outbox_mod.__name__):
        box.put(notification(1))
        box.put(notification(2))
        assert box.flush()
    assert box.dropped == 2
    assert box.depth() == 0
    assert "instance-1" in caplog.text
    assert "No space left on device" in caplog.text


def test_unusable_directory(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("")
    box = outbox_mod.Outbox(str(path / "outbox"), Destination())
    with pytest.raises(exception.OutboxUnavailable) as caught:
        box.put(notification(1))
    assert str(path) in str(caught.value)


def test_max_items_must_be_positive(directory):
    with pytest.raises(ValueError):
        outbox_mod.Outbox(directory, Destination(), max_items=0)


def test_unrelated_files_are_ignored(directory, stopped):
    os.makedirs(directory)
    for name in ("README", "1.json", "00000000000000000001.json~"):
        with open(os.path.join(directory, name), "w") as stream:
            stream.write("x")
    destination = Destination()
    box = outbox_mod.Outbox(directory, destination)
    stopped.append(box)
    assert box.depth() == 0
    box.put(notification(1))
    box.start()
    wait_until(lambda: len(destination.received) == 1)
    assert sorted(os.listdir(directory)) == [
        "00000000000000000001.json~", "1.json", "README"]


class SlowDisk(spool_mod.Spool):
    """A disk whose writes wait until released; records the batches."""

    def __init__(self, directory: str):
        super().__init__(directory)
        self.release = threading.Event()
        self.batches: typing.List[typing.List[int]] = []

    def write_batch(self, entries, failed):
        self.release.wait(10)
        self.batches.append([sequence for sequence, _ in entries])
        return super().write_batch(entries, failed)


def test_put_does_no_disk_io_and_nothing_is_delivered_before_it_is_on_disk(
        directory, stopped):
    """A stuck disk neither blocks put() nor lets delivery run ahead."""
    destination = Destination()
    box = outbox_mod.Outbox(directory, destination)
    stopped.append(box)
    box._spool = disk = SlowDisk(directory)
    box.start()
    started = time.monotonic()
    for number in range(50):
        box.put(notification(number))
    assert time.monotonic() - started < 1.0
    assert box.depth() == 50
    time.sleep(0.1)
    assert destination.attempts == [] and files(directory) == []
    assert box.flush(timeout=0.1) is False
    disk.release.set()
    wait_until(lambda: len(destination.received) == 50)
    assert destination.instances() == ["instance-%d" % n for n in range(50)]
    written = [sequence for batch in disk.batches for sequence in batch]
    assert written == list(range(1, 51))
    assert len(disk.batches) < 50  # batched: one directory sync each


def test_stop_writes_what_was_put_before_returning(directory):
    box = outbox_mod.Outbox(directory, Destination(failures=1000),
                            backoff_initial=30.0)
    for number in range(20):
        box.put(notification(number))
    assert box.stop() is True
    assert len(files(directory)) == 20
    again = outbox_mod.Outbox(directory, Destination())
    assert again.depth() == 20


def test_a_full_outbox_deletes_files_off_the_calling_thread(directory):
    """Dropping the oldest must not unlink on the producer's thread."""
    box = outbox_mod.Outbox(directory, Destination(), max_items=2)
    for number in range(2):
        box.put(notification(number))
    assert box.flush()
    unlinked_on: typing.List[str] = []

    class Watched(spool_mod.Spool):
        def unlink(self, name: str) -> None:
            unlinked_on.append(threading.current_thread().name)
            super().unlink(name)

    box._spool = Watched(directory)
    box.put(notification(2))
    assert box.flush()
    assert unlinked_on == ["heartbeat-outbox-writer"]
    assert files(directory) == ["00000000000000000002.json",
                                "00000000000000000003.json"]
