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

from nova_vm_heartbeat.runtime.throttle import LogThrottle
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
