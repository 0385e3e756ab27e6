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

"""A notification of ours, read back by a consumer.

The inverse of :func:`nova_vm_heartbeat.notifications.payload.build`, for
the programs that listen on the bus (the Masakari bridge, the Vitrage
datasource). Whatever arrives there is untrusted: anyone with access to
the exchange can publish. :func:`parse` turns the event type, publisher id
and payload of one message into a frozen :class:`Report`, or raises
:class:`MalformedNotification` saying what is wrong; nothing past it sees
the raw dictionary. Standard library only, like the module it mirrors.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing
import uuid

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications import payload as pl

#: The publisher ids we accept: ``nova-compute:<host>``.
PUBLISHER_PREFIX = pl.publisher_id("")
#: The payload major version this reader understands.
MAJOR_VERSION = pl.PAYLOAD_VERSION.split(".")[0]
#: Longest text field kept (host names, reasons); the rest is cut.
MAX_TEXT = 255

#: Every event type we publish.
EVENT_TYPES = frozenset(kind.value for kind in vd.VerdictKind)


class MalformedNotification(exception.HeartbeatException):
    """A message with one of our event types that we cannot read."""

    msg_fmt = "Ignoring a malformed %(event_type)s notification: %(reason)s"


@dataclasses.dataclass(frozen=True)
class Report:
    """One verdict, as a consumer receives it."""

    kind: vd.VerdictKind
    #: The compute host that published it (``nova-compute:<host>``).
    host: str
    instance_uuid: str
    fault_class: vd.FaultClass
    severity: vd.Severity
    episode: int
    #: Unique per verdict and kept across redelivery.
    verdict_id: str
    #: When the verdict was made (timezone aware, UTC).
    generated_at: datetime.datetime
    reason: str = ""
    display_name: str = ""

    @property
    def restored(self) -> bool:
        """Whether this verdict ends an episode."""
        return self.kind is vd.VerdictKind.HEARTBEAT_RESTORED


JsonDict = typing.Dict[str, typing.Any]


def parse(event_type: str, payload: typing.Any,
          publisher_id: typing.Any = None) -> Report:
    """The :class:`Report` carried by one message.

    :param publisher_id: the message's publisher, which names the host;
        when the consumer does not get it (a Vitrage datasource sees only
        the payload), the payload's ``host`` is used.
    :raises MalformedNotification: it is not one of our notifications, or
        a field is missing, of the wrong type or out of range. Whatever
        reading the message raises becomes this one exception (a date
        out of range raises OverflowError, a deep structure
        RecursionError...): a consumer that let any other escape would
        see the same message redelivered forever.
    """
    try:
        return _parse(event_type, payload, publisher_id)
    except Exception as err:
        raise MalformedNotification(
            event_type=cut(str(event_type)),
            reason=cut("%s: %s" % (type(err).__name__, err))) from err


def _parse(event_type: str, payload: typing.Any,
           publisher_id: typing.Any) -> Report:
    kind = vd.VerdictKind(event_type)
    data = _data(payload)
    return Report(
        kind=kind,
        host=(_text(data, "host") if publisher_id is None
              else _host(publisher_id)),
        instance_uuid=str(uuid.UUID(_text(data, "instance_uuid"))),
        fault_class=vd.FaultClass(_text(data, "fault_class")),
        severity=vd.Severity(_text(data, "severity")),
        episode=_count(data, "episode"),
        verdict_id=_text(data, "verdict_id"),
        generated_at=_moment(_text(data, "generated_at")),
        reason=cut(str(data.get("reason") or "")),
        display_name=cut(str(data.get("display_name") or "")))


def _data(payload: typing.Any) -> JsonDict:
    """The ``nova_object.data`` of a payload we can read."""
    if not isinstance(payload, dict):
        raise TypeError("the payload is a %s, not an object"
                        % type(payload).__name__)
    name = payload.get("nova_object.name")
    if name != pl.PAYLOAD_NAME:
        raise ValueError("payload object %r, expected %s"
                         % (cut(str(name)), pl.PAYLOAD_NAME))
    version = str(payload.get("nova_object.version", ""))
    if version.split(".")[0] != MAJOR_VERSION:
        raise ValueError("payload version %r, this reader knows %s.x"
                         % (cut(version), MAJOR_VERSION))
    data = payload.get("nova_object.data")
    if not isinstance(data, dict):
        raise TypeError("nova_object.data is not an object")
    return data


def _host(publisher_id: typing.Any) -> str:
    text = str(publisher_id or "")
    if not text.startswith(PUBLISHER_PREFIX):
        raise ValueError("publisher %r is not nova-compute:<host>"
                         % cut(text))
    host = text[len(PUBLISHER_PREFIX):]
    if not host or len(host) > MAX_TEXT:
        raise ValueError("publisher %r names no host" % cut(text))
    return host


def _text(data: JsonDict, key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError("%s is not a non-empty string" % key)
    if len(value) > MAX_TEXT:
        raise ValueError("%s is longer than %d characters" % (key, MAX_TEXT))
    return value


def _count(data: JsonDict, key: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("%s is not a count" % key)
    return value


def _moment(text: str) -> datetime.datetime:
    """Nova's DateTimeField form (ISO 8601 with a Z), timezone aware."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("generated_at %r has no time zone" % text)
    return moment.astimezone(datetime.timezone.utc)


def cut(text: str) -> str:
    """Bounded and printable, for logs and alarm texts."""
    printable = "".join(c if c.isprintable() else "?" for c in text)
    return printable[:MAX_TEXT]
