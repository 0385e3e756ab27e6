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

"""Log throttling."""

from __future__ import annotations

from nova_vm_heartbeat.common.log_throttle import LogThrottle
from nova_vm_heartbeat.runtime.throttle import BurstThrottle
from nova_vm_heartbeat.runtime.throttle import Once


def test_log_throttle_counts_what_it_holds_back() -> None:
    throttle = LogThrottle(60.0)
    assert throttle.allow(0.0) == 0
    assert throttle.allow(1.0) is None
    assert throttle.allow(59.0) is None
    assert throttle.allow(60.0) == 2
    assert throttle.allow(61.0) is None


def test_once() -> None:
    once = Once()
    assert not once.clear()
    assert once.first()
    assert not once.first()
    assert once.clear()
    assert once.first()


def test_burst_keeps_the_first_and_the_last_with_a_count() -> None:
    throttle: BurstThrottle[int] = BurstThrottle(burst=2, period=60.0)
    out = [throttle.offer(0.0, n) for n in range(1000)]
    assert out[:2] == [[(0, 0)], [(1, 0)]]
    assert all(o == [] for o in out[2:])
    assert throttle.holding
    assert throttle.flush(10.0) == []  # the budget has not refilled
    assert throttle.flush(30.0) == [(999, 997)]
    assert not throttle.holding
    assert throttle.flush(90.0) == []  # nothing held any more
    # A storm that goes on: about 2 * burst lines a period, never more.
    logged = sum(len(throttle.offer(100.0 + t / 100, t))
                 for t in range(60 * 100))
    assert logged <= 2 + 2 + 1


def test_burst_of_a_normal_story_is_logged_whole() -> None:
    throttle: BurstThrottle[str] = BurstThrottle(burst=4, period=60.0)
    story = ["suspect", "failed", "healthy"]
    assert [throttle.offer(float(t), s) for t, s in enumerate(story)] \
        == [[(s, 0)] for s in story]


def test_drain_gives_the_held_line_whatever_the_budget() -> None:
    throttle: BurstThrottle[int] = BurstThrottle(burst=1, period=60.0)
    assert throttle.offer(0.0, 1) == [(1, 0)]
    assert throttle.offer(0.0, 2) == []
    assert throttle.offer(0.0, 3) == []
    assert throttle.flush(1.0) == []
    assert throttle.drain() == [(3, 1)]
    assert throttle.drain() == []
