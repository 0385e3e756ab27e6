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

"""The token bucket."""

from __future__ import annotations

from nova_vm_heartbeat.common.ratelimit import TokenBucket


def test_burst_then_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.take(10.0) for _ in range(4)] == [True] * 3 + [False]
    assert bucket.take(10.4) is False
    assert bucket.take(10.5) is True
    assert bucket.take(100.0) and bucket.take(100.0) and bucket.take(100.0)
    assert bucket.take(100.0) is False


def test_clock_going_backwards_grants_nothing() -> None:
    bucket = TokenBucket(rate=1.0, burst=1)
    assert bucket.take(50.0)
    assert bucket.take(10.0) is False
    assert bucket.take(50.5) is False
    assert bucket.take(51.0) is True
