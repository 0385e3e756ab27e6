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

"""Driver operations and libvirt events, as monitor signals."""

from __future__ import annotations

import types
import typing

from nova.virt import event as virtevent
import pytest

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.virt import awareness as aw

L, Op = sig.Lifecycle, sig.Operation
UUID = "00000000-0000-4000-8000-000000000001"


class Recorder:
    def __init__(self) -> None:
        self.posted: typing.List[typing.Tuple[str, sig.Signal]] = []
        self.observed: typing.List[typing.Tuple[str, bool]] = []

    def post(self, uuid: str, signal: sig.Signal) -> None:
        self.posted.append((uuid, signal))

    def signals(self) -> typing.List[sig.Signal]:
        return [s for _, s in self.posted]


class Source:
    """Stands for NovaInstanceSource: records what the driver saw."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder

    def observed(self, uuid: str, running: bool) -> None:
        self.recorder.observed.append((uuid, running))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def awareness(recorder: Recorder) -> aw.Awareness:
    awareness = aw.Awareness()
    awareness.attach(recorder.post, Source(recorder))  # type: ignore[arg-type]
    return awareness


class Driver:
    """A driver with two wrapped operations."""

    def __init__(self, awareness: aw.Awareness):
        self.heartbeat_awareness = awareness
        self.calls: typing.List[str] = []

    @aw.quiets(Op.PAUSE, L.PAUSED)
    def pause(self, instance: typing.Any) -> str:
        self.calls.append("pause")
        return "paused"

    @aw.quiets(Op.SNAPSHOT)
    def snapshot(self, context: object, instance: typing.Any,
                 image_id: str) -> None:
        raise RuntimeError("glance is down")


def test_an_operation_suspends_then_reports_its_outcome(
        awareness: aw.Awareness, recorder: Recorder) -> None:
    driver = Driver(awareness)
    assert driver.pause(types.SimpleNamespace(uuid=UUID)) == "paused"
    assert recorder.signals() == [
        sig.OperationStarted(Op.PAUSE), sig.DomainEvent(L.PAUSED,
                                                        "nova:pause"),
        sig.OperationFinished(Op.PAUSE)]
    assert recorder.observed == [(UUID, False)]


def test_a_failed_operation_ends_its_suspension(
        awareness: aw.Awareness, recorder: Recorder) -> None:
    driver = Driver(awareness)
    with pytest.raises(RuntimeError):
        driver.snapshot(None, image_id="x",
                        instance=types.SimpleNamespace(uuid=UUID))
    assert recorder.signals() == [sig.OperationStarted(Op.SNAPSHOT),
                                  sig.OperationFinished(Op.SNAPSHOT)]


def test_quiesce_begins_what_unquiesce_ends(
        awareness: aw.Awareness, recorder: Recorder) -> None:
    with awareness.during(UUID, Op.QUIESCE, ends=False):
        pass
    with awareness.during(UUID, Op.QUIESCE, begins=False):
        pass
    assert recorder.signals() == [sig.OperationStarted(Op.QUIESCE),
                                  sig.OperationFinished(Op.QUIESCE)]


@pytest.mark.parametrize("transition, lifecycle, running", [
    (virtevent.EVENT_LIFECYCLE_STARTED, L.STARTED, True),
    (virtevent.EVENT_LIFECYCLE_STOPPED, L.STOPPED, False),
    (virtevent.EVENT_LIFECYCLE_PAUSED, L.PAUSED, False),
    (virtevent.EVENT_LIFECYCLE_RESUMED, L.RESUMED, True),
    (virtevent.EVENT_LIFECYCLE_SUSPENDED, L.PAUSED, False),
    (virtevent.EVENT_LIFECYCLE_POSTCOPY_STARTED, L.PAUSED, False),
    (virtevent.EVENT_LIFECYCLE_MIGRATION_COMPLETED, L.STOPPED, False),
])
def test_nova_lifecycle_events(awareness: aw.Awareness, recorder: Recorder,
                               transition: int, lifecycle: sig.Lifecycle,
                               running: bool) -> None:
    awareness.nova_event(virtevent.LifecycleEvent(UUID, transition))
    [(uuid, signal)] = recorder.posted
    assert uuid == UUID and isinstance(signal, sig.DomainEvent)
    assert signal.lifecycle is lifecycle
    assert recorder.observed == [(UUID, running)]


def test_other_events_are_ignored(awareness: aw.Awareness,
                                  recorder: Recorder) -> None:
    awareness.nova_event(virtevent.InstanceEvent(UUID))
    assert recorder.posted == []


def test_nothing_is_posted_without_a_monitor(recorder: Recorder) -> None:
    awareness = aw.Awareness()
    driver = Driver(awareness)
    driver.pause(types.SimpleNamespace(uuid=UUID))
    awareness.nova_event(virtevent.LifecycleEvent(
        UUID, virtevent.EVENT_LIFECYCLE_STOPPED))
    assert driver.calls == ["pause"] and recorder.posted == []


def test_a_rescued_domain_running_is_not_the_guest_running(
        awareness: aw.Awareness, recorder: Recorder) -> None:
    awareness.hold(UUID)
    with awareness.during(UUID, Op.RESCUE, L.STOPPED):
        pass
    # libvirt's STARTED for the rescue domain, after rescue() returned
    awareness.nova_event(virtevent.LifecycleEvent(
        UUID, virtevent.EVENT_LIFECYCLE_STARTED))
    assert recorder.signals() == [
        sig.OperationStarted(Op.RESCUE),
        sig.DomainEvent(L.STOPPED, "nova:rescue"),
        sig.OperationFinished(Op.RESCUE)]
    assert recorder.observed == [(UUID, False)]
    awareness.release(UUID)  # unrescue
    awareness.nova_event(virtevent.LifecycleEvent(
        UUID, virtevent.EVENT_LIFECYCLE_STARTED))
    assert recorder.signals()[-1] == sig.DomainEvent(L.STARTED,
                                                     "nova:Started")
    assert recorder.observed[-1] == (UUID, True)


@pytest.mark.parametrize("args, kwargs, power_on", [
    # compute/manager.py: _init_instance and revert_resize (positional)
    (("ctx", "inst", "net", "mig", "bdi", False), {}, False),
    (("ctx", "inst", "net", "mig"), {"block_device_info": "bdi",
                                     "power_on": False}, False),
    (("ctx", "inst", "net", "mig"), {}, True),
])
def test_arguments_are_read_wherever_the_caller_put_them(
        args: typing.Tuple[typing.Any, ...],
        kwargs: typing.Dict[str, typing.Any], power_on: bool) -> None:
    given = aw.arguments(_method, object(), args, kwargs)
    assert given["instance"] == "inst" and given["power_on"] is power_on


def _method(self: object, context: object, instance: object,
            network_info: object, migration: object,
            block_device_info: object = None, power_on: bool = True) -> None:
    """finish_revert_migration's signature, as a method."""


def test_arguments_that_do_not_fit_are_a_type_error() -> None:
    with pytest.raises(TypeError):
        aw.arguments(_method, object(), ("ctx",), {"bogus": 1})
