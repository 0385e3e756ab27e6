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

"""One channel's challenge bookkeeping."""

from __future__ import annotations

import pytest

from nova_vm_heartbeat.monitor.probes import CADENCE_SLOTS
from nova_vm_heartbeat.monitor.probes import Probe


def test_cadence_without_catch_up_bursts() -> None:
    probe = Probe(interval=1.0, timeout=0.5)
    probe.restart(10.0)
    assert probe.due(10.0) == 1
    assert probe.due(10.5) is None
    assert probe.due(11.0) == 2
    assert probe.due(20.0) == 3     # late: one challenge, not nine
    assert probe.due(20.0) is None
    assert probe.expire(20.0) == 2
    assert probe.next_deadline() == 20.5


def test_answer_measures_round_trip() -> None:
    probe = Probe(1.0, 0.5)
    probe.restart(0.0)
    seq = probe.due(0.0)
    assert seq is not None
    assert probe.answered(0.25, seq) == 0.25
    assert probe.last_good == 0.25 and probe.misses == 0
    assert probe.answered(0.3, seq) is None   # answered once only


def test_timeouts_count_misses_and_late_answers_still_count() -> None:
    probe = Probe(1.0, 0.5)
    probe.restart(0.0)
    first = probe.due(0.0)
    assert first is not None
    assert probe.expire(0.4) == 0
    assert probe.expire(0.5) == 1
    assert probe.misses == 1
    assert probe.answered(0.9, first) is not None
    assert probe.misses == 0


def test_failed_and_cancelled() -> None:
    probe = Probe(1.0, 0.5)
    probe.restart(0.0)
    one, two = probe.due(0.0), probe.due(1.0)
    assert one is not None and two is not None
    assert probe.failed(one) and probe.misses == 1
    assert not probe.failed(one)
    probe.cancel(two)
    assert probe.expire(5.0) == 0


def test_a_cancelled_challenge_leaves_the_agent_unknown() -> None:
    probe = Probe(1.0, 0.5)
    probe.restart(0.0)
    one, two, three = probe.due(0.0), probe.due(1.0), probe.due(2.0)
    assert one is not None and two is not None and three is not None
    assert probe.answered(0.1, one) is not None and not probe.unknown
    probe.cancel(two)  # a host error, or no worker in time
    assert probe.unknown and probe.misses == 0
    probe.cancel(two)
    assert probe.failed(three) and not probe.unknown


def test_unusable_probe_sends_nothing() -> None:
    probe = Probe(1.0, 0.5)
    probe.usable = False
    assert probe.due(0.0) is None
    assert probe.next_deadline() == float("inf")


def test_old_expired_challenges_are_forgotten() -> None:
    probe = Probe(1.0, 0.5)
    probe.restart(0.0)
    seq = probe.due(0.0)
    assert seq is not None
    probe.expire(1.0)
    probe.expire(100.0)
    assert probe.answered(100.0, seq) is None


@pytest.mark.parametrize("interval,timeout", [(1.0, 0.5), (5.0, 2.5),
                                              (10.0, 10.0), (2.0, 0.1),
                                              (0.5, 0.5)])
@pytest.mark.parametrize("spread", [0.0, 0.01, 0.3, 0.5, 0.77, 0.99, 1.0])
@pytest.mark.parametrize("now", [1000.0, 1000.3, 12345.678])
def test_the_second_challenge_after_a_restart(
        interval: float, timeout: float, spread: float, now: float) -> None:
    """Between the first one's timeout and one interval, on the grid.

    On the grid of CADENCE_SLOTS points when one lies in between.
    """
    probe = Probe(interval, timeout, spread)
    probe.restart(now)
    assert probe.due(now) == 1
    probe.answered(now + 0.001, 1)
    second = probe.next_deadline()
    assert now + timeout - 1e-9 <= second <= now + interval + 1e-9
    grain = interval / CADENCE_SLOTS
    on_grid = abs(second / grain - round(second / grain)) < 1e-6
    if interval - timeout >= grain:
        assert on_grid, (second, grain)
    # The cadence goes on from there.
    assert probe.due(second) == 2
    probe.answered(second + 0.001, 2)
    assert probe.next_deadline() == pytest.approx(second + interval)


def test_the_spread_moves_the_second_challenge_only() -> None:
    spread = [Probe(1.0, 0.5, s) for s in (0.0, 0.5, 1.0)]
    seconds = []
    for probe in spread:
        probe.restart(0.0)
        probe.due(0.0)
        probe.answered(0.001, 1)
        seconds.append(probe.next_deadline())
    assert seconds == sorted(seconds) and seconds[0] < seconds[-1]
    assert seconds[-1] == 1.0  # spread 1: the plain cadence


def test_a_spread_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError):
        Probe(1.0, 0.5, 1.5)
