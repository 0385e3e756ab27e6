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

"""The wire schema: every message type, its JSON name and its fields.

One table, :data:`MESSAGES`, says how each :mod:`.events` class looks on the
wire. Field order in the table is the order of keys on the wire. Fields
with a default may be omitted by the sender; receivers ignore keys they do
not know, so a later minor revision can add optional fields.
"""

from __future__ import annotations

import dataclasses
import typing

from nova_vm_heartbeat.protocol import events
from nova_vm_heartbeat.protocol import fields as f
from nova_vm_heartbeat.protocol import limits

#: The protocol versions this implementation speaks.
MIN_VERSION = 1
MAX_VERSION = 1

HOST = "host"
GUEST = "guest"

_NAME = f.Token(f.NAME_RE, "a name of 1 to 64 letters, digits or _.:+~-")
_ID = f.Token(f.NAME_RE, "an identifier of 1 to 64 letters, digits or "
              "_.:+~-", allow_empty=True)
_NONCE = f.Token(f.NONCE_RE, "16 to 64 lowercase hex digits")
_VERSION = f.Integer(1, 255)
_SECONDS = f.Number(0.1, 3600.0)
_WINDOW = f.Integer(0, limits.MAX_MAINTENANCE)


@dataclasses.dataclass(frozen=True)
class WireField:
    """One key of a message: its JSON name, attribute and type."""

    key: str
    attr: str
    kind: f.Field
    required: bool = True


@dataclasses.dataclass(frozen=True)
class MessageSchema:
    """How one message class appears on the wire, and who may send it."""

    type_name: str
    cls: typing.Type[events.Message]
    sender: str
    fields: typing.Tuple[WireField, ...]


def _schema(type_name: str, cls: typing.Type[events.Message], sender: str,
            *fields: WireField) -> MessageSchema:
    return MessageSchema(type_name, cls, sender, fields)


def _opt(key: str, attr: str, kind: f.Field) -> WireField:
    return WireField(key, attr, kind, required=False)


MESSAGES: typing.Tuple[MessageSchema, ...] = (
    _schema("hello", events.Hello, GUEST,
            WireField("v", "version", _VERSION),
            WireField("min_v", "min_version", _VERSION),
            WireField("agent", "agent", _NAME),
            WireField("agent_version", "agent_version", _NAME),
            _opt("boot_id", "boot_id", _ID),
            _opt("caps", "capabilities", f.Names(16)),
            _opt("mono", "monotonic", f.Number())),
    _schema("welcome", events.Welcome, HOST,
            WireField("v", "version", _VERSION),
            WireField("interval", "interval", _SECONDS),
            WireField("timeout", "timeout", _SECONDS),
            WireField("max_maintenance", "max_maintenance", _WINDOW),
            _opt("session", "session", _ID)),
    _schema("challenge", events.Challenge, HOST,
            WireField("seq", "seq", f.Integer()),
            WireField("nonce", "nonce", _NONCE)),
    _schema("response", events.Response, GUEST,
            WireField("seq", "seq", f.Integer()),
            WireField("nonce", "nonce", _NONCE),
            WireField("health", "health", f.Choice(events.Health)),
            _opt("components", "components", f.Components()),
            _opt("mono", "monotonic", f.Number())),
    _schema("report", events.Report, GUEST,
            WireField("health", "health", f.Choice(events.Health)),
            _opt("components", "components", f.Components()),
            _opt("mono", "monotonic", f.Number())),
    _schema("maintenance", events.Maintenance, GUEST,
            WireField("duration", "duration", _WINDOW),
            _opt("reason", "reason", f.Text())),
    _schema("request", events.Request, GUEST,
            WireField("action", "action", f.Choice(events.RecoveryAction)),
            _opt("reason", "reason", f.Text())),
    _schema("bye", events.Bye, GUEST,
            WireField("reason", "reason", f.Choice(events.ByeReason))),
    _schema("notice", events.Notice, HOST,
            WireField("event", "event", f.Choice(events.NoticeEvent)),
            _opt("deadline", "deadline", f.Integer(0, 86400))),
    _schema("ack", events.Ack, HOST,
            WireField("of", "subject", f.Choice(events.AckSubject)),
            WireField("accepted", "accepted", f.Boolean()),
            _opt("granted", "granted", _WINDOW),
            _opt("reason", "reason", f.Text())),
    _schema("error", events.Error, HOST,
            WireField("code", "code", f.Choice(events.ErrorCode)),
            _opt("reason", "reason", f.Text()),
            _opt("versions", "versions", f.VersionRange())),
)


def _hello_versions(message: events.Message) -> typing.Optional[str]:
    assert isinstance(message, events.Hello)
    if message.min_version > message.version:
        return "'min_v' must not exceed 'v'"
    return None


#: Checks that involve more than one field: message class -> check that
#: returns what is wrong, or None.
CROSS_CHECKS: typing.Dict[
        type, typing.Callable[[events.Message], typing.Optional[str]]] = {
    events.Hello: _hello_versions,
}

BY_TYPE_NAME = {schema.type_name: schema for schema in MESSAGES}
BY_CLASS = {schema.cls: schema for schema in MESSAGES}

#: Messages whose envelope is frozen across protocol versions: they may
#: carry any ``v``, every other message carries the negotiated version.
VERSION_FREE = (events.Hello, events.Error)
