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

"""The Nova instance source: conductor answers and the driver's word."""

from __future__ import annotations

import datetime
import types
import typing

import pytest

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.virt import source as nova_source

NOW = datetime.datetime(2026, 11, 21, 12, 0, tzinfo=datetime.timezone.utc)
ON = {"hw:heartbeat": "true", "hw:heartbeat_interval": "2"}


def instance(n: int,
             extra_specs: typing.Optional[typing.Dict[str, str]] = None,
             **fields: typing.Any) -> types.SimpleNamespace:
    values = dict(
        uuid="00000000-0000-4000-8000-%012d" % n, name="instance-%08x" % n,
        display_name="vm-%d" % n,
        flavor=types.SimpleNamespace(extra_specs=ON if extra_specs is None
                                     else extra_specs),
        system_metadata={"image_hw_qemu_guest_agent": "yes"},
        launched_at=NOW - datetime.timedelta(seconds=600),
        vm_state="active", task_state=None, power_state=1)
    values.update(fields)
    return types.SimpleNamespace(**values)


class Conductor:
    """Answers what it is told; counts the questions."""

    def __init__(self, *instances: types.SimpleNamespace):
        self.instances = list(instances)
        self.asked = 0
        self.during: typing.Optional[typing.Callable[[], None]] = None

    def __call__(self) -> typing.List[types.SimpleNamespace]:
        self.asked += 1
        answer = list(self.instances)
        if self.during is not None:
            self.during()  # the driver speaks while the question runs
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(conductor: Conductor, clock: Clock,
         socket_dir: str = "/run/hb") -> nova_source.NovaInstanceSource:
    return nova_source.NovaInstanceSource(
        conductor, socket_dir, Settings(), clock=clock,
        wallclock=lambda: NOW, interval=60.0)


def test_only_heartbeat_flavors_are_listed_with_their_settings() -> None:
    conductor = Conductor(instance(1), instance(2, extra_specs={}),
                          instance(3, {"hw:heartbeat": "false"}))
    [info] = make(conductor, Clock()).instances()
    assert info.uuid.endswith("1")
    assert info.domain_name == "instance-00000001"
    assert info.display_name == "vm-1"
    assert info.heartbeat_socket == (
        "/run/hb/org.openstack.heartbeat.0.instance-00000001.sock")
    assert info.settings.interval == 2 and info.settings.qga
    assert info.running and info.uptime == 600.0


def test_only_active_idle_powered_on_instances_are_judged() -> None:
    conductor = Conductor(
        instance(1), instance(2, vm_state="paused"),
        instance(3, task_state="rebooting"), instance(4, power_state=4))
    running = {i.domain_name: i.running
               for i in make(conductor, Clock()).instances()}
    assert running == {"instance-00000001": True, "instance-00000002": False,
                       "instance-00000003": False, "instance-00000004": False}


def test_a_resize_waiting_for_confirmation_is_judged() -> None:
    # VERIFY_RESIZE: the guest runs the tenant's workload on the new
    # flavor, for as long as nobody confirms (Masakari recovers it too).
    conductor = Conductor(
        instance(1, vm_state="resized"),
        instance(2, vm_state="resized", task_state="resize_reverting"),
        instance(3, vm_state="resized", power_state=4))
    running = {i.domain_name: i.running
               for i in make(conductor, Clock()).instances()}
    assert running == {"instance-00000001": True, "instance-00000002": False,
                       "instance-00000003": False}


def test_the_conductor_is_asked_at_a_modest_rate() -> None:
    conductor, clock = Conductor(instance(1)), Clock()
    source = make(conductor, clock)
    source.instances()
    clock.now += 59
    source.instances()
    assert conductor.asked == 1
    clock.now += 1
    source.instances()
    assert conductor.asked == 2


def test_the_driver_keeps_the_answer_current_between_questions() -> None:
    conductor, clock = Conductor(instance(1)), Clock()
    source = make(conductor, clock)
    source.instances()
    source.observed(instance(1).uuid, False)
    source.add(instance(2, launched_at=None), running=True)
    infos = {i.domain_name: i for i in source.instances()}
    assert not infos["instance-00000001"].running
    assert infos["instance-00000002"].running
    assert infos["instance-00000002"].uptime is None  # a fresh boot
    source.remove(instance(2).uuid)
    assert [i.domain_name for i in source.instances()] == [
        "instance-00000001"]


def test_a_word_newer_than_the_question_wins_over_its_answer() -> None:
    conductor, clock = Conductor(instance(1)), Clock()
    source = make(conductor, clock)
    source.instances()

    def spoken_while_asked() -> None:
        clock.now += 1
        source.observed(instance(1).uuid, False)
        source.add(instance(2), running=True)

    conductor.during = spoken_while_asked
    clock.now += 60
    infos = {i.domain_name: i.running for i in source.instances()}
    assert infos == {"instance-00000001": False, "instance-00000002": True}
    conductor.during = None
    clock.now += 60  # the next answer is newer than every word: it rules
    infos = {i.domain_name: i.running for i in source.instances()}
    assert infos == {"instance-00000001": True}


def test_a_socket_dir_too_long_leaves_qga_only() -> None:
    conductor = Conductor(instance(1))
    [info] = make(conductor, Clock(), socket_dir="/" + "x" * 90).instances()
    assert info.heartbeat_socket is None


class Listing:
    """Stands for nova.objects.InstanceList: answers or fails."""

    error: typing.Optional[Exception] = None
    asked: typing.List[typing.Tuple[str, typing.List[str]]] = []

    @classmethod
    def get_by_host(cls, context, host, expected_attrs):
        cls.asked.append((host, expected_attrs))
        if cls.error is not None:
            raise cls.error
        return [instance(1)]


@pytest.fixture
def listing(monkeypatch) -> typing.Type[Listing]:
    from nova import objects
    monkeypatch.setattr(objects, "InstanceList", Listing, raising=False)
    Listing.error, Listing.asked = None, []
    return Listing


def test_the_conductor_is_asked_for_flavors_and_system_metadata(
        listing) -> None:
    [found] = nova_source.conductor_fetch("compute-1")()
    assert found.name == "instance-00000001"
    assert listing.asked == [("compute-1", ["flavor", "system_metadata"])]


def test_a_conductor_that_does_not_answer_is_unavailable(listing) -> None:
    import oslo_messaging
    listing.error = oslo_messaging.MessagingTimeout("no reply in 60 s")
    with pytest.raises(exception.SourceUnavailable,
                       match="instances of compute-1: no reply in 60 s"):
        nova_source.conductor_fetch("compute-1")()


def test_an_instance_that_cannot_be_read_is_left_out(caplog) -> None:
    broken = instance(2)
    broken.flavor = None  # as a half-deleted instance might be
    [info] = make(Conductor(instance(1), broken), Clock()).instances()
    assert info.domain_name == "instance-00000001"
    assert "%s: cannot read its flavor" % broken.uuid in caplog.text


class Libvirt:
    """Stands for the driver's question to libvirt: which domains run."""

    def __init__(self, *running: int):
        self.running = {instance(n).uuid for n in running}
        self.error: typing.Optional[Exception] = None

    def __call__(self) -> typing.Set[str]:
        if self.error is not None:
            raise self.error
        return set(self.running)


def with_libvirt(conductor: Conductor, clock: Clock,
                 libvirt: Libvirt) -> nova_source.NovaInstanceSource:
    return nova_source.NovaInstanceSource(
        conductor, "/run/hb", Settings(), clock=clock,
        wallclock=lambda: NOW, interval=60.0, running_domains=libvirt)


def test_libvirt_not_the_database_says_whether_a_domain_runs() -> None:
    # After a host reboot the database still says "running" for every
    # instance; libvirt knows instance 2's domain is shut off.
    conductor = Conductor(instance(1), instance(2), instance(3, power_state=4),
                          instance(4, vm_state="stopped"))
    libvirt = Libvirt(1, 3, 4)
    running = {i.domain_name: i.running for i in with_libvirt(
        conductor, Clock(), libvirt).instances()}
    # 3: the database is behind (power state sync), libvirt says it runs;
    # 4: runs, but Nova does not mean it to (a stop under way).
    assert running == {"instance-00000001": True, "instance-00000002": False,
                       "instance-00000003": True, "instance-00000004": False}


def test_libvirt_is_asked_on_every_look_the_conductor_not() -> None:
    conductor, clock, libvirt = Conductor(instance(1)), Clock(), Libvirt(1)
    source = with_libvirt(conductor, clock, libvirt)
    assert [i.running for i in source.instances()] == [True]
    libvirt.running.clear()  # destroyed behind Nova's back
    clock.now += 10
    assert [i.running for i in source.instances()] == [False]
    assert conductor.asked == 1 and source.fetches == 1


def test_without_libvirt_the_database_is_the_hint(caplog) -> None:
    conductor, libvirt = Conductor(instance(1), instance(2, power_state=4)), \
        Libvirt()
    libvirt.error = RuntimeError("libvirtd is restarting")
    source = with_libvirt(conductor, Clock(), libvirt)
    for _ in range(2):
        running = {i.domain_name: i.running for i in source.instances()}
        assert running == {"instance-00000001": True,
                           "instance-00000002": False}
    assert caplog.text.count("libvirtd is restarting") == 1


def test_the_boot_grace_counts_from_the_drivers_spawn() -> None:
    # Unshelve, evacuate, cross-cell resize: Nova's launched_at still holds
    # the first boot (10 minutes ago) while the driver spawns again.
    conductor, clock = Conductor(instance(1)), Clock()
    source = with_libvirt(conductor, clock, Libvirt(1))
    [before] = source.instances()
    assert before.uptime == 600.0
    seen = source.add(instance(1), running=True, spawned=True)
    assert seen is not None and seen.uptime == 0.0 and seen.running
    clock.now += 5
    [after] = source.instances()
    assert after.uptime == 5.0
    clock.now += 60  # a new answer, launched_at still old: the spawn rules
    [later] = source.instances()
    assert later.uptime == 65.0 and conductor.asked == 2


def test_uptime_grows_between_questions_to_the_conductor() -> None:
    conductor, clock = Conductor(instance(1)), Clock()
    source = make(conductor, clock)
    source.instances()
    clock.now += 30
    [info] = source.instances()
    assert info.uptime == 630.0 and conductor.asked == 1


def test_values_the_api_refuses_are_warned_of_once_per_instance(
        caplog) -> None:
    bad = dict(ON, **{"hw:heartbeat_interval": "0",
                      "hw:heartbeat_timeout": "soon"})
    conductor, clock = Conductor(instance(1, bad), instance(2, bad)), Clock()
    source = make(conductor, clock)
    for _ in range(2):
        clock.now += 60
        infos = source.instances()
    assert {i.settings.interval for i in infos} == {Settings().interval}
    assert caplog.text.count("hw:heartbeat_interval=0, "
                             "hw:heartbeat_timeout=soon") == 2
    assert caplog.text.count(instance(1).uuid) == 1


def test_an_arrival_outlives_answers_nova_has_not_caught_up_with() -> None:
    # Nova saves the new host only after post_live_migration_at_destination
    # returned: an answer asked just after the driver's word does not list
    # the instance yet, and must not make it leave.
    conductor, clock = Conductor(), Clock()
    source = asking_often(conductor, clock)
    source.instances()
    source.add(instance(1), running=True)
    clock.now += 2
    assert [i.domain_name for i in source.instances()] == [
        "instance-00000001"]
    assert conductor.asked == 2
    clock.now += nova_source.ARRIVAL_HOLD  # by now Nova would have said
    assert source.instances() == []


def test_a_stop_the_driver_saw_does_not_hold_an_instance_here() -> None:
    conductor, clock = Conductor(instance(1)), Clock()
    source = asking_often(conductor, clock)
    source.instances()
    source.observed(instance(1).uuid, False)  # powered off, then shelved
    conductor.instances = []  # ... and offloaded: Nova says it is gone
    clock.now += 2
    assert source.instances() == []


def test_a_placement_the_answer_agreed_with_holds_no_more() -> None:
    # Spawned here, listed by the next answer, then migrated away: the
    # spawn does not keep it here.
    conductor, clock = Conductor(), Clock()
    source = asking_often(conductor, clock)
    source.instances()
    source.add(instance(1), running=True, spawned=True)
    conductor.instances = [instance(1)]
    clock.now += 2
    assert len(source.instances()) == 1
    conductor.instances = []
    clock.now += 2
    assert source.instances() == []


def asking_often(conductor: Conductor,
                 clock: Clock) -> nova_source.NovaInstanceSource:
    """A source that asks the conductor every 2 s."""
    return nova_source.NovaInstanceSource(
        conductor, "/run/hb", Settings(), clock=clock,
        wallclock=lambda: NOW, interval=2.0)
