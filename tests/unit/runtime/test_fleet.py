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

"""The fleet, driven by a fake clock: scheduling, signals, guarding."""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import typing

import pytest

from nova_vm_heartbeat.monitor.machine import MonitorState as S
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.monitor.probes import CADENCE_SLOTS
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.runtime.fleet import Fleet
from nova_vm_heartbeat.runtime.fleet import MIN_TICK_GAP
from nova_vm_heartbeat.runtime.fleet import spread
from nova_vm_heartbeat.runtime.fleet import TICK_GRAIN
from tests.unit.runtime import fakes
from tests.unit.runtime.fakes import info

LOST = "instance.heartbeat_lost"
RESTORED = "instance.heartbeat_restored"


class World:
    def __init__(self, qga: bool = False) -> None:
        self.clock = fakes.Clock()
        self.effects = fakes.Effects()
        self.fleet = Fleet(fakes.OPTIONS, self.effects, self.clock, qga=qga)

    def apply(self, *infos, asked_at=None) -> None:
        self.fleet.apply(infos, self.clock.now,
                         self.clock.now if asked_at is None else asked_at)

    def run(self, seconds: float) -> int:
        """Move time from deadline to deadline; how many ticks ran."""
        end, ticks = self.clock.now + seconds, 0
        while True:
            due = self.fleet.next_deadline()
            if due > end:
                self.clock.now = end
                return ticks
            self.clock.now = max(self.clock.now, due)
            ticks += self.fleet.run_due(self.clock.now)

    def state(self, uuid: str) -> S:
        instance = self.fleet.get(uuid)
        assert instance is not None
        return instance.monitor.state

    def greet(self, uuid: str) -> None:
        """The agent says hello; the first challenge goes at once."""
        self.fleet.deliver(uuid, sig.AgentGreeted("boot-1"))
        self.fleet.run_due(self.clock.now)


def test_instances_come_and_go_with_the_source() -> None:
    world = World()
    world.apply(info("a"), info("b", running=False))
    assert len(world.fleet) == 2
    assert world.effects.channels["a"].starts == 1
    assert world.effects.channels["b"].starts == 0  # not running
    assert world.effects.channels["a"].terms.interval == 1.0
    assert world.effects.channels["a"].terms.max_maintenance \
        == fakes.BOUNDS.max_maintenance
    world.apply(info("b", running=False))
    assert "a" not in world.fleet
    assert world.effects.channels["a"].state.value == "closed"
    assert world.effects.forgotten == ["a"]


def test_nothing_to_monitor_is_not_monitored() -> None:
    world = World(qga=False)
    world.apply(info("a", socket="", settings=dataclasses.replace(
        fakes.SETTINGS, qga=True)))
    assert len(world.fleet) == 0


def test_healthy_then_lost_within_interval_times_threshold() -> None:
    world = World()
    world.apply(info("a"))
    world.greet("a")
    assert world.state("a") is S.HEALTHY
    world.run(5.0)
    assert world.effects.reports == []
    channel = world.effects.channels["a"]
    assert len(channel.challenges) >= 5
    channel.answering = False
    silent_from = world.clock.now
    world.run(5.0)
    (uuid, verdict, state), = world.effects.reports
    assert (uuid, verdict.kind.value, state) == ("a", LOST, "failed")
    # Detected at the deadline, not on a polling period.
    assert world.state("a") is S.FAILED
    assert verdict.silent_for is not None
    assert verdict.silent_for <= 3.0 + 1e-9
    assert world.clock.now - silent_from >= 3.0 - 1.0


def test_only_due_instances_are_ticked() -> None:
    world = World(qga=True)
    qga_only = dataclasses.replace(fakes.SETTINGS, qga=True)
    world.apply(*[info("i%d" % n, socket="", settings=qga_only,
                       uptime=1000.0) for n in range(100)])
    assert world.fleet.run_due(world.clock.now) == 100
    assert len(world.effects.syncs) == 100
    # Nothing is due until the first timeout: no polling.
    world.clock.now += 0.1
    assert world.fleet.run_due(world.clock.now) == 0
    assert world.fleet.next_deadline() == pytest.approx(1000.5)
    for uuid, seq, _ in world.effects.syncs:
        world.fleet.deliver(uuid, sig.QgaAnswered(seq))
    # Answered: each instance is next due at its second challenge, which
    # its uuid places between the first one's timeout and the interval.
    # (On the grid of 8 points a second, rounded up to the tick grain.)
    assert 1000.5 <= world.fleet.next_deadline() \
        <= 1000.5 + 0.125 + TICK_GRAIN
    first = world.run(0.8)  # to 1000.9: not all of them yet
    assert 0 < first < 100
    assert first + world.run(0.1) == 100


def test_instances_started_together_are_challenged_apart() -> None:
    """A thousand hellos at once: small batches every interval after."""
    world = World()
    names = ["%08x-0000-4000-8000-000000000000" % (n * 7919)
             for n in range(1000)]
    world.apply(*[info(name) for name in names])
    for name in names:
        world.greet(name)
    sent: typing.List[float] = []
    for channel in world.effects.channels.values():
        original = channel.challenge

        def challenge(seq: int, original: typing.Any = original) -> None:
            sent.append(world.clock.now)
            original(seq)
        channel.challenge = challenge  # type: ignore[method-assign]
    world.run(5.0)
    later = [at for at in sent if 1002.0 <= at < 1005.0]
    assert len(later) == 3000  # the cadence is kept: one per interval
    batches = collections.Counter(round(at % 1.0, 3) for at in later)
    # Between the first challenge's timeout (0.5 s) and the interval, on
    # the grid: 4 batches of about a quarter each, not one of all.
    assert len(batches) <= CADENCE_SLOTS
    assert max(batches.values()) < 0.3 * len(later), batches


@pytest.mark.parametrize("uuid", ["a", "11111111-1111-4111-8111-111111111111",
                                  "ffffffff-ffff-4fff-bfff-ffffffffffff"])
def test_the_spread_is_a_share_of_the_interval(uuid: str) -> None:
    assert 0.0 <= spread(uuid) < 1.0
    assert spread(uuid) == spread(uuid.upper().lower())


def test_a_stall_is_forgiven() -> None:
    world = World()
    world.apply(info("a"))
    world.greet("a")
    world.run(3.0)
    world.clock.now += 10.0  # the host stalled
    world.fleet.forgive_all(world.clock.now)
    world.run(5.0)
    assert world.effects.reports == []
    assert world.state("a") is S.HEALTHY


def test_without_forgiveness_a_stall_would_count() -> None:
    world = World()
    world.apply(info("a"))
    world.greet("a")
    world.run(3.0)
    world.effects.channels["a"].answering = False
    world.clock.now += 10.0
    # The monitor's loss deadline is in the past while its challenge is
    # pending: ticks are spaced, not spun.
    assert world.run(0.4) <= 0.4 / MIN_TICK_GAP + 1
    world.run(1.0)
    assert world.effects.kinds("a") == [LOST]


def test_a_missed_stop_event_is_inferred_from_the_source() -> None:
    world = World()
    world.apply(info("a"))
    world.greet("a")
    asked_at = world.clock.now
    world.run(1.0)
    world.apply(info("a", running=False), asked_at=asked_at)
    assert world.state("a") is S.INACTIVE
    assert world.effects.channels["a"].state.value == "closed"
    world.run(30.0)
    assert world.effects.reports == []
    # Back, long running: resumed, not a new boot.
    world.apply(info("a", running=True, uptime=3600.0))
    assert world.state("a") is S.STARTING
    world.greet("a")
    assert world.state("a") is S.HEALTHY


@pytest.mark.parametrize("uptime,established,expected", [
    (3600.0, False, S.HEALTHY),   # resumed: challenged again at once
    (1.0, True, S.STARTING),      # a new boot: waits for the hello
    (None, True, S.HEALTHY),
    (None, False, S.STARTING),
])
def test_a_missed_resume_or_boot_is_inferred(uptime, established,
                                             expected) -> None:
    world = World()
    world.apply(info("a"))
    world.greet("a")
    world.fleet.deliver("a", sig.DomainEvent(sig.Lifecycle.PAUSED))
    world.clock.now += 1.0
    world.effects.channels["a"].established = established
    world.apply(info("a", running=True, uptime=uptime))
    world.run(0.5)
    assert world.state("a") is expected
    # Whatever was inferred, the agent answering makes it healthy.
    world.greet("a")
    world.run(0.5)
    assert world.state("a") is S.HEALTHY
    world.run(30.0)
    assert world.effects.reports == []


def test_an_event_newer_than_the_question_wins() -> None:
    world = World()
    world.apply(info("a"))
    asked_at = world.clock.now
    world.clock.now += 1.0
    world.fleet.deliver("a", sig.DomainEvent(sig.Lifecycle.STARTED))
    world.apply(info("a", running=False), asked_at=asked_at)
    instance = world.fleet.get("a")
    assert instance is not None and instance.running


def test_lifecycle_events_drive_the_channel() -> None:
    world = World()
    world.apply(info("a"))
    channel = world.effects.channels["a"]
    world.fleet.deliver("a", sig.DomainEvent(sig.Lifecycle.STOPPED))
    assert channel.state.value == "closed"
    world.fleet.deliver("a", sig.DomainEvent(sig.Lifecycle.STARTED))
    assert channel.starts == 2 and channel.nudges == 1


def test_new_settings_reconfigure_monitor_and_channel() -> None:
    world = World()
    world.apply(info("a"))
    slower = dataclasses.replace(fakes.SETTINGS, interval=4.0, timeout=2.0)
    world.apply(info("a", settings=slower))
    instance = world.fleet.get("a")
    assert instance is not None
    assert instance.monitor.settings.interval == 4.0
    assert world.effects.channels["a"].terms.interval == 4.0


def test_a_new_socket_path_gets_a_new_channel() -> None:
    world = World()
    world.apply(info("a"))
    old = world.effects.channels["a"]
    world.apply(info("a", socket="/run/y.sock"))
    assert old.state.value == "closed"
    assert world.effects.channels["a"] is not old


def test_one_broken_instance_does_not_stop_the_others(
        caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    world.apply(info("bad"), info("good"))
    world.effects.channels["bad"].fail = RuntimeError("a bug")
    with caplog.at_level(logging.DEBUG):
        world.greet("bad")
        world.greet("good")
        world.run(5.0)
    assert world.state("good") is S.HEALTHY
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "unexpected error in tick" in errors[0].getMessage()
    assert world.fleet.next_deadline() < math.inf


def test_signals_for_unknown_instances_are_dropped() -> None:
    world = World()
    world.fleet.deliver("ghost", sig.DomainEvent(sig.Lifecycle.STARTED))
    assert len(world.fleet) == 0


def test_statuses() -> None:
    world = World()
    world.apply(info("a", display_name="web"))
    world.greet("a")
    status, = world.fleet.statuses(world.clock.now)
    assert (status.uuid, status.domain_name, status.display_name) \
        == ("a", "instance-a", "web")
    assert status.status.state is S.HEALTHY
    assert status.channel is not None


def test_settings_asking_for_qga_get_it_only_if_available() -> None:
    world = World(qga=False)
    wants_qga = Settings(qga=True)
    world.apply(info("a", settings=wants_qga))
    instance = world.fleet.get("a")
    assert instance is not None and not instance.monitor.settings.qga


def test_state_changes_are_logged_once_each(
        caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    world.apply(info("a"))
    with caplog.at_level(logging.DEBUG, logger="nova_vm_heartbeat"):
        world.greet("a")  # answered synchronously, within the tick
        world.run(2.0)
        world.effects.channels["a"].answering = False
        world.run(10.0)
    changes = [(r.levelno, r.getMessage()) for r in caplog.records
               if "->" in r.getMessage()]
    assert changes == [
        (logging.INFO, "Instance a (instance-a): starting -> healthy"),
        (logging.DEBUG, "Instance a (instance-a): healthy -> suspect"),
        (logging.WARNING, "Instance a (instance-a): suspect -> failed"),
    ]


def test_a_held_state_change_is_logged_without_a_later_event(
        caplog: pytest.LogCaptureFixture) -> None:
    # A burst of changes (a resize: suspended, stopped, started) exhausts
    # the log budget; the last change, to a stopped domain that sends
    # nothing more, is logged once the budget allows, not days later.
    world = World()
    world.apply(info("a"))
    stopped, started = (sig.DomainEvent(sig.Lifecycle.STOPPED),
                        sig.DomainEvent(sig.Lifecycle.STARTED))
    with caplog.at_level(logging.INFO, logger="nova_vm_heartbeat"):
        for signal in (stopped, started, stopped, started, stopped):
            world.fleet.deliver("a", signal)
        assert len([r for r in caplog.records if "->" in r.getMessage()]) == 4
        world.clock.now += 120.0
        world.fleet.flush_logs(world.clock.now)
    changes = [r.getMessage() for r in caplog.records
               if "->" in r.getMessage()]
    assert changes[4:] == ["Instance a (instance-a): starting -> inactive"]


def test_a_held_state_change_is_logged_when_the_instance_goes(
        caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    world.apply(info("a"))
    with caplog.at_level(logging.INFO, logger="nova_vm_heartbeat"):
        for n in range(7):
            world.fleet.deliver("a", sig.DomainEvent(
                sig.Lifecycle.STARTED if n % 2 else sig.Lifecycle.STOPPED))
        world.apply()
    changes = [r.getMessage() for r in caplog.records
               if "->" in r.getMessage()]
    assert changes[-1].startswith("Instance a (instance-a): starting -> "
                                  "inactive (after ")


def test_an_admitted_instance_outlives_an_older_answer() -> None:
    # The driver spawned "a" while the source's question was under way: the
    # answer (asked before) does not list it and must not remove it.
    world = World()
    asked_at = world.clock.now
    world.clock.now += 1.0
    world.fleet.admit(info("a", uptime=0.0), world.clock.now)
    world.fleet.deliver("a", sig.DomainEvent(sig.Lifecycle.STARTED))
    assert world.state("a") is S.STARTING
    world.apply(asked_at=asked_at)
    assert "a" in world.fleet
    world.clock.now += 1.0
    world.apply()  # an answer asked after the admission rules
    assert "a" not in world.fleet


def test_admitting_a_monitored_instance_gives_it_the_new_settings() -> None:
    # A resize on the same host: the driver receives the instance again,
    # with the new flavor's settings. Whether it runs, lifecycle events say.
    world = World()
    world.apply(info("a"))
    instance = world.fleet.get("a")
    assert instance is not None
    slower = dataclasses.replace(fakes.SETTINGS, interval=2.0)
    world.fleet.admit(info("a", running=False, settings=slower),
                      world.clock.now)
    assert world.fleet.get("a") is instance
    assert instance.running
    assert instance.monitor.settings.interval == 2.0
    assert world.effects.channels["a"].terms.interval == 2.0


def test_clamped_settings_are_said_when_an_instance_is_added(caplog) -> None:
    caplog.set_level(logging.WARNING)
    world = World()
    world.apply(info("a", settings=dataclasses.replace(
        fakes.SETTINGS, boot_grace=1.0)), info("b"))
    assert "bounds clamp what it asks for: boot_grace 1 -> 5" in caplog.text
    assert "instance-b" not in caplog.text
