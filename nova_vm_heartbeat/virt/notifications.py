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

"""Verdicts as Nova versioned notification objects.

Nova's ``EventType.action`` is a closed enum, so these classes carry our
own event type (:class:`HeartbeatEventType`) beside our payload and
notification classes, all on Nova's notification base classes. They are
registered with ``register_if(False)``, as Nova's base classes are: they
stay out of Nova's object registry, and ``tests/unit/virt`` pins their
hashes the way Nova's own notification tests do.

:func:`from_plain` builds them from the plain notification of
:mod:`nova_vm_heartbeat.notifications.payload`, field by field, so the
JSON Nova puts on the wire is the JSON the standalone monitor sends;
``tests/unit/virt/test_notifications.py`` checks both against
``doc/notification_samples/``.
"""

from __future__ import annotations

import typing

from nova.notifications.objects import base as notification_base
from nova.objects import base as nova_base
from nova.objects import fields

from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications import payload as plain


def _actions() -> typing.Tuple[str, ...]:
    return tuple(kind.value.split(".", 1)[1] for kind in vd.VerdictKind)


class HeartbeatAction(fields.BaseNovaEnum):  # type: ignore[misc]
    """The actions of our event types (``instance.<action>``)."""

    ALL = _actions()


class HeartbeatActionField(fields.BaseEnumField):  # type: ignore[misc]
    AUTO_TYPE = HeartbeatAction()


@nova_base.NovaObjectRegistry.register_if(False)
class HeartbeatEventType(notification_base.NotificationObject):  # type: ignore[misc]  # noqa: E501
    """``instance.heartbeat_lost`` and friends (Nova's EventType is closed).

    Only its string form goes on the wire.
    """

    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "object": fields.StringField(nullable=False),
        "action": HeartbeatActionField(nullable=False),
        "phase": fields.NotificationPhaseField(nullable=True),
    }

    def __init__(self, object: str, action: str,
                 phase: typing.Optional[str] = None):
        super().__init__()
        self.object = object
        self.action = action
        self.phase = phase

    to_notification_event_type_field = (
        notification_base.EventType.to_notification_event_type_field)


@nova_base.NovaObjectRegistry.register_if(False)
class HeartbeatComponentPayload(notification_base.NotificationPayloadBase):  # type: ignore[misc]  # noqa: E501
    """A component the guest reported failed."""

    # Version 1.0: Initial version
    VERSION = plain.COMPONENT_VERSION

    fields = {
        "name": fields.StringField(),
        "reason": fields.StringField(),
        "progress": fields.IntegerField(nullable=True),
    }


@nova_base.NovaObjectRegistry.register_if(False)
class InstanceHeartbeatPayload(notification_base.NotificationPayloadBase):  # type: ignore[misc]  # noqa: E501
    """What a verdict says about an instance (see the reference docs)."""

    # Version 1.0: Initial version
    # Version 1.1: fault_class agent_absent
    VERSION = plain.PAYLOAD_VERSION

    fields = {
        "instance_uuid": fields.UUIDField(),
        "display_name": fields.StringField(),
        "host": fields.StringField(),
        "verdict_id": fields.StringField(),
        "episode": fields.IntegerField(),
        "fault_class": fields.EnumField(
            valid_values=[f.value for f in vd.FaultClass]),
        "severity": fields.EnumField(
            valid_values=[s.value for s in vd.Severity]),
        "state": fields.StringField(),
        "reason": fields.StringField(),
        "silent_for": fields.FloatField(nullable=True),
        "missed_heartbeats": fields.IntegerField(),
        "channels": fields.ListOfStringsField(),
        "failed_components": fields.ListOfObjectsField(
            "HeartbeatComponentPayload"),
        "requested_action": fields.StringField(nullable=True),
        "suppressed": fields.IntegerField(),
        # ISO 8601 with microseconds, as a string: Nova's DateTimeField
        # would drop the microseconds the standalone monitor sends.
        "generated_at": fields.StringField(),
    }


@nova_base.NovaObjectRegistry.register_if(False)
class InstanceHeartbeatNotification(notification_base.NotificationBase):  # type: ignore[misc]  # noqa: E501
    """One verdict, as Nova emits it."""

    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "event_type": fields.ObjectField("HeartbeatEventType"),
        "payload": fields.ObjectField("InstanceHeartbeatPayload"),
    }


#: Every class above, for the hash test.
CLASSES = (HeartbeatEventType, HeartbeatComponentPayload,
           InstanceHeartbeatPayload, InstanceHeartbeatNotification)


def _fill(obj: typing.Any, data: typing.Mapping[str, typing.Any]) -> None:
    for name in obj.fields:
        setattr(obj, name, data[name])


def _component(primitive: typing.Mapping[str, typing.Any]
               ) -> HeartbeatComponentPayload:
    component = HeartbeatComponentPayload()
    _fill(component, primitive["nova_object.data"])
    return component


def payload_from(primitive: typing.Mapping[str, typing.Any]
                 ) -> InstanceHeartbeatPayload:
    """The Nova payload object of a plain payload.

    :raises ValueError: the plain payload does not fit the Nova classes
        (a field is missing, or of the wrong type or value).
    """
    if primitive.get("nova_object.name") != plain.PAYLOAD_NAME:
        raise ValueError("not an %s: %r" % (
            plain.PAYLOAD_NAME, primitive.get("nova_object.name")))
    data = dict(primitive["nova_object.data"])
    data["failed_components"] = [_component(c)
                                 for c in data["failed_components"]]
    payload = InstanceHeartbeatPayload()
    try:
        _fill(payload, data)
    except KeyError as err:
        raise ValueError("the payload has no %s" % err) from err
    payload.obj_reset_changes(recursive=True)
    return payload


def from_plain(note: plain.Notification) -> InstanceHeartbeatNotification:
    """The Nova notification of a plain one.

    :raises ValueError: see :func:`payload_from`; also an event type or
        publisher Nova's fields refuse.
    """
    obj, _, action = note.event_type.partition(".")
    source, _, host = note.publisher_id.partition(":")
    return InstanceHeartbeatNotification(
        priority=note.priority.lower(),
        event_type=HeartbeatEventType(object=obj, action=action),
        publisher=notification_base.NotificationPublisher(
            host=host, source=source),
        payload=payload_from(note.payload))
