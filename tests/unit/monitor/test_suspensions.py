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

"""Suspension reasons and their caps."""

from __future__ import annotations

from nova_vm_heartbeat.monitor.suspensions import Suspensions


def test_reasons_end_or_expire() -> None:
    suspensions = Suspensions()
    assert not suspensions
    suspensions.begin("operation:reboot", 100.0)
    suspensions.begin("maintenance", 50.0)
    assert suspensions.next_deadline() == 50.0
    assert suspensions.active(40.0) == {"operation:reboot": 60.0,
                                        "maintenance": 10.0}
    assert suspensions.expire(50.0) == ["maintenance"]
    assert suspensions.end("operation:reboot")
    assert not suspensions.end("operation:reboot")
    assert not suspensions


def test_end_matching() -> None:
    suspensions = Suspensions()
    for reason in ("bye:reboot", "bye:shutdown", "maintenance"):
        suspensions.begin(reason, 10.0)
    suspensions.end_matching("bye:")
    assert list(suspensions.active(0.0)) == ["maintenance"]
