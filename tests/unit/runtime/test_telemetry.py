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

"""What the fleet counts for operators, with a fake clock and channels."""

from __future__ import annotations

import math

import pytest

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.runtime.fleet import TICK_GRAIN
from nova_vm_heartbeat.runtime.telemetry import Histogram
from nova_vm_heartbeat.runtime.telemetry import RTT_BUCKETS
from nova_vm_heartbeat.runtime.telemetry import Telemetry
from tests.unit.runtime.fakes import info
from tests.unit.runtime.test_fleet import World


def test_histogram_buckets_sum_and_merge() -> None:
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 7.0):
        histogram.observe(value)
    assert histogram.counts == [2, 1, 1]  # a bound belongs to its bucket
    assert histogram.count == 4
    assert histogram.total == pytest.approx(7.65)
    copy = histogram.copy()
    copy.add(histogram)
    assert copy.counts == [4, 2, 2] and copy.count == 8
    assert histogram.counts == [2, 1, 1]  # the copy is independent


def test_round_trips_are_kept_per_instance_and_forgotten() -> None:
    telemetry = Telemetry()
    telemetry.round_trip("a", "heartbeat", 0.002)
    telemetry.round_trip("a", "qga", 0.004)
    telemetry.round_trip("b", "heartbeat", 0.5)
    snapshot = telemetry.snapshot({"healthy": 2})
    assert set(snapshot.round_trips) == {("a", "heartbeat"), ("a", "qga"),
                                         ("b", "heartbeat")}
    assert snapshot.round_trips["a", "heartbeat"].bounds == RTT_BUCKETS
    telemetry.forget("a")
    assert set(telemetry.snapshot({}).round_trips) == {("b", "heartbeat")}
    assert telemetry.snapshot({}, round_trips=False).round_trips == {}


def test_the_fleet_counts_answers_misses_and_verdicts() -> None:
    world = World()
    world.apply(info("a"))
    world.greet("a")
    world.run(3.0)
    snap = world.fleet.snapshot()
    assert snap.states == {"healthy": 1}
    assert snap.round_trips["a", "heartbeat"].count >= 3
    assert snap.missed == 0 and snap.verdicts == {}
    world.effects.channels["a"].answering = False
    world.run(5.0)
    snap = world.fleet.snapshot()
    assert snap.states == {"failed": 1}
    assert snap.missed >= 3
    assert snap.verdicts == {("instance.heartbeat_lost", "guest_hung"): 1}
    assert snap.loop_lag.count > 0 and snap.loop_lag_max >= 0.0


def test_protocol_errors_are_counted_by_kind() -> None:
    world = World()
    world.apply(info("a"))
    world.fleet.deliver("a", sig.ProtocolViolation("invalid_json"))
    world.fleet.deliver("a", sig.ProtocolViolation("invalid_json"))
    world.fleet.deliver("a", sig.ProtocolViolation("too_deep"))
    assert world.fleet.snapshot().protocol_errors == {"invalid_json": 2,
                                                      "too_deep": 1}


def test_a_removed_instance_takes_its_round_trips_along() -> None:
    world = World()
    world.apply(info("a"), info("b"))
    world.greet("a")
    world.greet("b")
    world.run(2.0)
    world.apply(info("b"))
    assert {k[0] for k in world.fleet.snapshot().round_trips} == {"b"}


def test_deadlines_fall_on_the_tick_grain() -> None:
    world = World()
    world.clock.now = 1000.003
    world.apply(info("a"))
    world.greet("a")
    deadline = world.fleet.next_deadline()
    grains = deadline / TICK_GRAIN
    assert math.isclose(grains, round(grains), abs_tol=1e-6)
    assert deadline >= 1000.003


def test_waiting_for_hello_is_not_loop_lag() -> None:
    world = World()
    world.apply(info("a"))
    world.clock.now += 5.0  # the agent says hello five seconds later
    world.greet("a")
    snap = world.fleet.snapshot()
    assert snap.loop_lag.count == 1
    assert snap.loop_lag_max <= TICK_GRAIN
