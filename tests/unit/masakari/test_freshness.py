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

"""Whether a verdict is still current: its age and a later restored."""

from __future__ import annotations

import datetime

from nova_vm_heartbeat.masakari.freshness import Freshness
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications.received import Report

NOW = datetime.datetime(2026, 12, 7, 3, 0, tzinfo=datetime.timezone.utc)


def report(age: float, episode: int = 1, restored: bool = False,
           instance: str = "i-1", host: str = "compute-1") -> Report:
    return Report(
        kind=(vd.VerdictKind.HEARTBEAT_RESTORED if restored
              else vd.VerdictKind.HEARTBEAT_LOST),
        host=host, instance_uuid=instance,
        fault_class=vd.FaultClass.GUEST_HUNG, severity=vd.Severity.CRITICAL,
        episode=episode, verdict_id="v",
        generated_at=NOW - datetime.timedelta(seconds=age))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime.datetime:
        return self.now


def test_age_cap_is_strict_and_future_verdicts_are_current():
    fresh = Freshness(60.0, Clock())
    assert fresh.why_stale(report(60.0)) is None
    assert "61 s ago" in str(fresh.why_stale(report(61.0)))
    assert fresh.why_stale(report(-3600.0)) is None


def test_restored_matches_host_instance_and_episode_only():
    fresh = Freshness(600.0, Clock())
    fresh.restored(report(10.0, episode=2, restored=True))
    assert fresh.why_stale(report(20.0, episode=2)) is not None
    assert fresh.why_stale(report(10.0, episode=2)) is not None  # same time
    assert fresh.why_stale(report(5.0, episode=2)) is None  # after it
    assert fresh.why_stale(report(20.0, episode=3)) is None
    assert fresh.why_stale(report(20.0, episode=2, instance="i-2")) is None
    assert fresh.why_stale(report(20.0, episode=2, host="compute-2")) is None


def test_memory_is_bounded_by_count_and_by_the_age_cap():
    clock = Clock()
    fresh = Freshness(100.0, clock, max_restored=3)
    for episode in range(1, 5):
        fresh.restored(report(0.0, episode=episode, restored=True))
    assert fresh.why_stale(report(1.0, episode=1)) is None  # pushed out
    assert fresh.why_stale(report(1.0, episode=4)) is not None
    clock.now += datetime.timedelta(seconds=101)
    fresh.restored(report(-101.0, episode=9, restored=True))
    assert len(fresh._restored) == 1
