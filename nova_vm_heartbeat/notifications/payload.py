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

"""The notification a verdict becomes, as plain data.

This module builds exactly what Nova's versioned notifications put on the
wire for our event types (``event_type``, ``publisher_id``, ``priority``
and a ``payload`` serialised like a Nova notification object), with the
standard library only. The standalone monitor sends it as it is;
``nova_vm_heartbeat.virt`` defines the matching Nova notification classes
and checks that both serialise the same.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing

from nova_vm_heartbeat.monitor import verdicts as vd

#: The namespace Nova's notification objects serialise with.
OBJECT_NAMESPACE = "nova"
PAYLOAD_NAME = "InstanceHeartbeatPayload"
PAYLOAD_VERSION = "1.1"
COMPONENT_NAME = "HeartbeatComponentPayload"
COMPONENT_VERSION = "1.0"
#: Every verdict is a state change Vitrage must see: it listens at INFO.
PRIORITY = "INFO"


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who the verdict is about, and who says so."""

    instance_uuid: str
    host: str
    display_name: str = ""


@dataclasses.dataclass(frozen=True)
class Notification:
    """One notification, ready for any transport."""

    event_type: str
    publisher_id: str
    payload: typing.Dict[str, typing.Any]
    priority: str = PRIORITY

    def to_dict(self) -> typing.Dict[str, typing.Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: typing.Dict[str, typing.Any]) -> Notification:
        return cls(event_type=data["event_type"],
                   publisher_id=data["publisher_id"],
                   payload=data["payload"],
                   priority=data.get("priority", PRIORITY))


def publisher_id(host: str) -> str:
    """Nova's publisher id for a compute host."""
    return "nova-compute:%s" % host


JsonDict = typing.Dict[str, typing.Any]


def _object(name: str, version: str, data: JsonDict) -> JsonDict:
    return {"nova_object.name": name,
            "nova_object.namespace": OBJECT_NAMESPACE,
            "nova_object.version": version,
            "nova_object.data": data}


def _timestamp(moment: datetime.datetime) -> str:
    """Nova's DateTimeField form: ISO 8601, UTC, with a Z."""
    utc = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return utc.isoformat() + "Z"


def _component(component: vd.FailedComponent) -> JsonDict:
    return _object(COMPONENT_NAME, COMPONENT_VERSION, {
        "name": component.name, "reason": component.reason,
        "progress": component.progress})


def build(verdict: vd.Verdict, identity: Identity, state: str,
          generated_at: datetime.datetime,
          verdict_id: str) -> Notification:
    """The notification for ``verdict``.

    :param state: the monitor state when the verdict was made.
    :param generated_at: when it was made (timezone aware).
    :param verdict_id: a unique id, kept across redelivery, so consumers
        can drop duplicates.
    """
    data = {
        "instance_uuid": identity.instance_uuid,
        "display_name": identity.display_name,
        "host": identity.host,
        "verdict_id": verdict_id,
        "episode": verdict.episode,
        "fault_class": verdict.fault_class.value,
        "severity": verdict.severity.value,
        "state": state,
        "reason": verdict.reason,
        "silent_for": verdict.silent_for,
        "missed_heartbeats": verdict.missed,
        "channels": list(verdict.channels),
        "failed_components": [_component(c) for c in verdict.components],
        "requested_action": verdict.requested_action,
        "suppressed": verdict.suppressed,
        "generated_at": _timestamp(generated_at),
    }
    return Notification(event_type=verdict.kind.value,
                        publisher_id=publisher_id(identity.host),
                        payload=_object(PAYLOAD_NAME, PAYLOAD_VERSION, data))
