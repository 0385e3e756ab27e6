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

"""Growing delays, shared by the guest agent and the host."""

from __future__ import annotations

import pytest

from nova_vm_heartbeat.common.backoff import Backoff


@pytest.mark.parametrize("first,cap,delays", [
    (0.5, 3.0, [0.5, 1.0, 2.0, 3.0, 3.0]),   # host sockets and libvirt
    (0.2, 1.0, [0.2, 0.4, 0.8, 1.0, 1.0]),   # the guest's port
    (5.0, 1.0, [5.0, 5.0]),                  # a cap below the first delay
])
def test_doubles_up_to_its_cap_and_resets(first: float, cap: float,
                                          delays: list[float]) -> None:
    backoff = Backoff(first, cap)
    assert [backoff.next() for _ in delays] == delays
    backoff.reset()
    assert backoff.next() == first
