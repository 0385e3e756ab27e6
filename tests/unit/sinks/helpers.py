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

"""Notifications and waiting, shared by the sinks' unit tests."""

from __future__ import annotations

import time
import typing

from nova_vm_heartbeat.notifications.payload import Notification


def notification(number: int = 0, **data: typing.Any) -> Notification:
    """A small notification; ``number`` makes its instance unique."""
    fields = {"instance_uuid": "instance-%d" % number,
              "fault_class": "guest_hung", "severity": "critical",
              "reason": "no answer for 30 s"}
    fields.update(data)
    return Notification(
        event_type="instance.heartbeat_lost",
        publisher_id="nova-compute:compute-1",
        payload={"nova_object.name": "InstanceHeartbeatPayload",
                 "nova_object.namespace": "nova",
                 "nova_object.version": "1.0",
                 "nova_object.data": fields})


def wait_until(predicate: typing.Callable[[], bool],
               timeout: float = 5.0) -> None:
    """Return once ``predicate()`` is true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("still false after %.1f s" % timeout)
        time.sleep(0.01)
