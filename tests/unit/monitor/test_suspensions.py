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

from nova_vm_heartbeat.monitor.suspensions import SuspensionKind as K
from nova_vm_heartbeat.monitor.suspensions import Suspensions


def test_reasons_end_or_expire() -> None:
    suspensions = Suspensions()
    assert not suspensions
    suspensions.begin(K.OPERATION, 100.0, "reboot")
    suspensions.begin(K.MAINTENANCE, 50.0)
    assert suspensions.next_deadline() == 50.0
    assert suspensions.active(40.0) == {"operation:reboot": 60.0,
                                        "maintenance": 10.0}
    assert suspensions.expire(50.0) == [(K.MAINTENANCE, "")]
    assert suspensions.end(K.OPERATION, "reboot")
    assert not suspensions.end(K.OPERATION, "reboot")
    assert not suspensions


def test_end_every_detail_of_a_kind() -> None:
    suspensions = Suspensions()
    suspensions.begin(K.BYE, 10.0, "reboot")
    suspensions.begin(K.BYE, 10.0, "shutdown")
    suspensions.begin(K.MAINTENANCE, 10.0)
    assert suspensions.holds(K.BYE)
    suspensions.end(K.BYE)
    assert not suspensions.holds(K.BYE)
    assert list(suspensions.active(0.0)) == ["maintenance"]


def test_a_detail_is_not_a_prefix() -> None:
    """An operation named like another's prefix is its own suspension."""
    suspensions = Suspensions()
    suspensions.begin(K.OPERATION, 10.0, "resume")
    assert not suspensions.end(K.OPERATION, "res")
    assert suspensions.holds(K.OPERATION)
