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

"""The application API: requests in, replies out, every input checked.

Applications in the guest talk to the agent over a UNIX stream socket, one
JSON object per line each way. :func:`parse_request` is the trust boundary:
a line goes in, a frozen request object comes out, or :class:`ApiError`
with a message fit to send back. :func:`encode_reply` and
:func:`error_reply` make the reply lines. The operations are documented in
``doc/source/user/guest-agent.rst``.
"""

from __future__ import annotations

import dataclasses
import json
import typing

from nova_vm_heartbeat.guest import components
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import codec
from nova_vm_heartbeat.protocol import fields
from nova_vm_heartbeat.protocol import limits

#: Longest request line, newline excluded.
MAX_REQUEST_BYTES = 4096
#: Longest maintenance window an application may ask for (seven days).
MAX_DURATION = limits.MAX_MAINTENANCE

#: JSON parsing bounds of a request (depth; the line size is checked first).
_LIMITS = protocol.Limits(max_line_bytes=MAX_REQUEST_BYTES, max_depth=4)

JsonDict = typing.Dict[str, typing.Any]


class ApiError(ValueError):
    """A request was refused; the message is sent back to the client."""


@dataclasses.dataclass(frozen=True)
class Register:
    component: str
    ttl: float


@dataclasses.dataclass(frozen=True)
class Notify:
    component: str
    status: protocol.Health
    reason: str = ""
    progress: typing.Optional[int] = None
    ttl: typing.Optional[float] = None


@dataclasses.dataclass(frozen=True)
class Unregister:
    component: str


@dataclasses.dataclass(frozen=True)
class Maintenance:
    #: Seconds of silence asked for; 0 ends the window.
    duration: int
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Recovery:
    action: protocol.RecoveryAction
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Status:
    pass


Request = typing.Union[Register, Notify, Unregister, Maintenance, Recovery,
                       Status]


# -- field validators: a JSON value in, a typed value out --------------------

def _component(value: object) -> str:
    if not isinstance(value, str):
        raise ApiError("must be a string")
    try:
        return components.check_name(value)
    except components.ComponentError as err:
        raise ApiError(str(err)) from err


def _field(field: fields.Field) -> typing.Callable[[object], typing.Any]:
    """A validator that applies a wire field type, as the codec does."""
    def check(value: object) -> typing.Any:
        try:
            return field.decode(value, protocol.DEFAULT_LIMITS)
        except fields.InvalidField as err:
            raise ApiError(str(err)) from err
    return check


def _reason(value: object) -> str:
    """Free text cleaned with the codec's rules, so the report keeps it."""
    if not isinstance(value, str):
        raise ApiError("must be a string")
    return fields.clean_text(value,
                             protocol.DEFAULT_LIMITS.max_string_chars)


_TTL = _field(fields.Number(components.MIN_TTL, components.MAX_TTL))

Validator = typing.Callable[[object], typing.Any]


@dataclasses.dataclass(frozen=True)
class _Op:
    """One operation: its request class and fields (name: validator)."""

    cls: typing.Callable[..., Request]
    required: typing.Dict[str, Validator]
    optional: typing.Dict[str, Validator]


OPS: typing.Dict[str, _Op] = {
    "register": _Op(Register, {"component": _component, "ttl": _TTL}, {}),
    "notify": _Op(Notify, {"component": _component,
                           "status": _field(fields.Choice(protocol.Health))},
                  {"reason": _reason,
                   "progress": _field(fields.Integer()),
                   "ttl": _TTL}),
    "unregister": _Op(Unregister, {"component": _component}, {}),
    "maintenance": _Op(Maintenance,
                       {"duration": _field(fields.Integer(0, MAX_DURATION))},
                       {"reason": _reason}),
    "request": _Op(Recovery,
                   {"action": _field(fields.Choice(protocol.RecoveryAction))},
                   {"reason": _reason}),
    "status": _Op(Status, {}, {}),
}


def _document(line: bytes) -> JsonDict:
    if len(line) > MAX_REQUEST_BYTES:
        raise ApiError("request longer than %d bytes" % MAX_REQUEST_BYTES)
    try:
        return codec.parse_json_line(line, _LIMITS)
    except protocol.RemoteProtocolError as err:
        raise ApiError("invalid request: %s" % err.detail) from err


def _op(document: JsonDict) -> typing.Tuple[str, _Op]:
    name = document.get("op")
    if not isinstance(name, str):
        raise ApiError("'op' is required and must be a string; one of: %s"
                       % ", ".join(OPS))
    op = OPS.get(name)
    if op is None:
        raise ApiError("unknown op %s; one of: %s"
                       % (protocol.errors.excerpt(name, 32), ", ".join(OPS)))
    return name, op


def _values(name: str, op: _Op, document: JsonDict) -> JsonDict:
    unknown = sorted(set(document) - {"op"} - set(op.required)
                     - set(op.optional))
    if unknown:
        raise ApiError("%s: unknown field %s" % (
            name, protocol.errors.excerpt(unknown[0], 32)))
    values = {}
    for key, check in list(op.required.items()) + list(op.optional.items()):
        if key not in document or document[key] is None:
            if key in op.required:
                raise ApiError("%s: '%s' is required" % (name, key))
            continue
        try:
            values[key] = check(document[key])
        except ApiError as err:
            raise ApiError("%s: '%s' %s" % (name, key, err)) from err
    return values


def parse_request(line: bytes) -> Request:
    """Turn one request line (without its newline) into a request.

    :raises ApiError: the line is not a valid request; the message says why.
    """
    document = _document(line)
    name, op = _op(document)
    return op.cls(**_values(name, op, document))


def encode_reply(reply: JsonDict) -> bytes:
    """One reply line, newline included."""
    return json.dumps(reply, separators=(",", ":"), sort_keys=True,
                      allow_nan=False).encode("utf-8") + b"\n"


def error_reply(message: str) -> JsonDict:
    """A reply that says the request failed, and why."""
    return {"ok": False, "error": message}


def ok_reply(**values: typing.Any) -> JsonDict:
    """A reply that says the request succeeded."""
    reply: JsonDict = {"ok": True}
    reply.update(values)
    return reply
