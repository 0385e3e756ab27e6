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

"""One log throttle for the host and the guest agent."""

from __future__ import annotations

import logging

import pytest

from nova_vm_heartbeat.common import log_throttle


def test_one_per_period_counts_what_it_holds_back() -> None:
    throttle = log_throttle.LogThrottle(60.0)
    assert throttle.allow(0.0) == 0
    assert throttle.allow(1.0) is None
    assert throttle.allow(59.0) is None
    assert throttle.allow(60.0) == 2
    assert throttle.allow(61.0) is None
    assert throttle.allow(500.0) == 1


def test_a_burst_then_the_sustained_rate() -> None:
    throttle = log_throttle.LogThrottle(10.0, burst=3)
    assert [throttle.allow(0.0) for _ in range(4)] == [0, 0, 0, None]
    assert throttle.allow(9.9) is None
    assert throttle.allow(10.0) == 2
    assert throttle.allow(10.0) is None
    # Quiet for long enough, the whole burst is available again.
    assert [throttle.allow(100.0) for _ in range(3)] == [1, 0, 0]


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        log_throttle.LogThrottle(0.0)
    with pytest.raises(ValueError):
        log_throttle.LogThrottle(1.0, burst=0)


def test_throttled_log_keeps_one_throttle_per_key(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = log_throttle.ThrottledLog(logging.getLogger("t"), lambda: now[0],
                                    period=10.0, burst=2)
    with caplog.at_level(logging.INFO, "t"):
        for _ in range(5):
            log.log(logging.WARNING, "a", "bad %s", "a")
        log.log(logging.WARNING, "b", "bad %s", "b")
        now[0] = 10.0
        log.log(logging.WARNING, "a", "bad %s", "a")
    assert caplog.messages == [
        "bad a", "bad a", "bad b", "bad a (3 similar messages suppressed)"]
