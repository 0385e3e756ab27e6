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
