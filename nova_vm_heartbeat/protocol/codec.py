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

"""Lines to messages and back, with every bound of :class:`.Limits`.

:func:`decode_line` is the trust boundary: bytes from the peer go in, a
validated :class:`.events.Message` comes out, or a
:class:`.RemoteProtocolError` whose ``kind`` says what was wrong.
"""

from __future__ import annotations

import json
import typing

from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol import events
from nova_vm_heartbeat.protocol import fields
from nova_vm_heartbeat.protocol.limits import Limits
from nova_vm_heartbeat.protocol import schema

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Depth does not depend on the kind of bracket: fold braces into brackets
# so that each peeling pass below removes exactly one level.
_FOLD_BRACES = bytes.maketrans(b"{}", b"[]")

Decoded = typing.Tuple[int, events.Message]


def _reject_duplicates(
        pairs: typing.List[typing.Tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in object")
    return result


def _reject_constant(name: str) -> None:
    raise ValueError("%s is not valid JSON" % name)


# Made once: json.loads and json.dumps build a new decoder or encoder on
# every call that passes options, a cost paid for every message.
_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates,
                            parse_constant=_reject_constant)
_JSON_SPACE = " \t\n\r"
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
                            allow_nan=False)


def _strip_strings(line: bytes) -> bytes:
    """``line`` without its JSON strings, in linear time whatever it holds.

    Escapes go first, so that every quote left delimits a string: escaped
    backslashes (paired from the left, as a JSON scanner pairs them), then
    escaped quotes. Then the pieces between the 1st and 2nd, 3rd and 4th...
    quotes are dropped. Each step is one pass of ``bytes`` methods. An
    unterminated string runs to the end of the line (the line is not JSON
    and the parser says so). No regex here may backtrack: a pattern like
    ``"(?:[^"\\]|\\.)*"`` is quadratic on an unterminated string of
    escaped quotes (1.3 s for 16 KiB).
    """
    unescaped = line.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(unescaped.split(b'"')[::2])


def _too_deep(line: bytes, max_depth: int) -> bool:
    """Whether JSON nesting in ``line`` exceeds ``max_depth``.

    Cheap in the common case: a line with few brackets cannot be deep.
    Otherwise strings are removed, the brackets kept, and innermost pairs
    peeled ``max_depth`` times, all in C and each pass linear (no
    Python-level loop per byte, no regex that can backtrack).
    """
    if line.count(b"[") + line.count(b"{") <= max_depth:
        return False
    brackets = _strip_strings(line).translate(_FOLD_BRACES, _NOT_BRACKETS)
    residue = brackets
    for _ in range(max_depth):
        residue = residue.replace(b"[]", b"")
    # Peeling turns the deepest remaining pair into "[]": one is left
    # only if a pair nests deeper than max_depth. Without one, what is
    # left is unbalanced, "]]..[[..": too many unclosed levels are too
    # deep, anything else is for the parser to reject.
    return b"[]" in residue or residue.count(b"[") > max_depth


def _decode_json(text: str) -> object:
    """``json.JSONDecoder.decode``, without its two regex calls per line.

    Whitespace around the value is what the decoder allows too: a line
    that begins with it takes the decoder's own path.
    """
    try:
        document, end = _DECODER.raw_decode(text)
    except ValueError:
        if text[:1] in _JSON_SPACE:
            return _DECODER.decode(text)
        raise
    if end != len(text):
        rest = text[end:].lstrip(_JSON_SPACE)
        if rest:
            raise json.JSONDecodeError("Extra data", text,
                                       len(text) - len(rest))
    return document


def parse_json_line(line: bytes, limits: Limits) -> dict[str, object]:
    """Parse one line as a JSON object, within ``limits``.

    :raises RemoteProtocolError: invalid UTF-8, too deep, not JSON, or not
        an object.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise errors.RemoteProtocolError(
            "invalid_utf8", "line is not valid UTF-8", line) from err
    if _too_deep(line, limits.max_depth):
        raise errors.RemoteProtocolError(
            "too_deep", "JSON nested deeper than %d levels"
            % limits.max_depth, line)
    try:
        document = _decode_json(text)
    except (ValueError, RecursionError) as err:
        raise errors.RemoteProtocolError(
            "invalid_json", "line is not valid JSON: %s" % err, line
        ) from err
    if not isinstance(document, dict):
        raise errors.RemoteProtocolError(
            "invalid_json", "line is not a JSON object", line)
    return document


class _Plan(typing.NamedTuple):
    """One message type, compiled once for the codec's per-line work."""

    schema: schema.MessageSchema
    #: ``(key, attr, decode, required)`` of each field, in schema order.
    fields: typing.Tuple[typing.Tuple[
        str, str, typing.Callable[[object, Limits], typing.Any], bool], ...]
    check: typing.Optional[
        typing.Callable[[events.Message], typing.Optional[str]]]
    #: For a message whose every field is an integer or a JSON-safe token:
    #: its line as a ``%`` template (see :func:`_template`), else None.
    template: typing.Optional[str]


#: Token patterns that can only match characters JSON writes unescaped
#: (no quote, backslash, control or non-ASCII character).
_JSON_SAFE_PATTERNS = (fields.NAME_RE, fields.NONCE_RE)


def _template(message_schema: schema.MessageSchema) -> typing.Optional[str]:
    """The line of ``message_schema`` with ``%d``/``%s`` for its values.

    Only for messages whose values JSON writes as they are: integers, and
    tokens whose pattern admits nothing JSON escapes. The keys go through
    the encoder, so the template is the line the encoder would write.
    """
    parts = ['{"v":%d,"type":' + _ENCODER.encode(message_schema.type_name)]
    for field in message_schema.fields:
        kind = type(field.kind)
        if not field.required:
            return None
        if kind is fields.Integer:
            value = "%d"
        elif kind is fields.Token and typing.cast(
                fields.Token, field.kind).pattern in _JSON_SAFE_PATTERNS:
            value = '"%s"'
        else:
            return None
        parts.append(_ENCODER.encode(field.key) + ":" + value)
    return ",".join(parts) + "}"


def _plan(message_schema: schema.MessageSchema) -> _Plan:
    return _Plan(
        message_schema,
        tuple((field.key, field.attr, field.kind.decode, field.required)
              for field in message_schema.fields),
        schema.CROSS_CHECKS.get(message_schema.cls),
        _template(message_schema))


_BY_TYPE_NAME = {name: _plan(message_schema)
                 for name, message_schema in schema.BY_TYPE_NAME.items()}
_BY_CLASS = {plan.schema.cls: plan for plan in _BY_TYPE_NAME.values()}


def _envelope(document: dict[str, object],
              line: bytes) -> typing.Tuple[int, _Plan]:
    version = document.get("v")
    if version.__class__ is not int or not 1 <= version <= 255:
        # Only an exact int: bool is an int subclass, and so is nothing
        # else the JSON decoder makes.
        raise errors.RemoteProtocolError(
            "invalid_field", "'v' must be an integer from 1 to 255", line)
    type_name = document.get("type")
    plan = (_BY_TYPE_NAME.get(type_name) if type_name.__class__ is str
            else None)
    if plan is None:
        if not isinstance(type_name, str):
            raise errors.RemoteProtocolError(
                "invalid_field", "'type' must be a string", line)
        raise errors.RemoteProtocolError(
            "unknown_type", "unknown message type %s"
            % errors.excerpt(type_name, 32), line)
    return version, plan


def _fields(document: dict[str, object], plan: _Plan,
            limits: Limits, line: bytes) -> dict[str, typing.Any]:
    values: dict[str, typing.Any] = {}
    for key, attr, decode, required in plan.fields:
        if key not in document:
            if required:
                raise errors.RemoteProtocolError(
                    "invalid_field", "%s: '%s' is required"
                    % (plan.schema.type_name, key), line)
            continue
        try:
            values[attr] = decode(document[key], limits)
        except fields.InvalidField as err:
            raise errors.RemoteProtocolError(
                "invalid_field", "%s: '%s' %s"
                % (plan.schema.type_name, key, err), line) from err
    return values


def decode_line(line: bytes, limits: Limits) -> Decoded:
    """Decode one line (without its newline) into ``(version, message)``.

    :raises RemoteProtocolError: the line is not a valid message.
    """
    if len(line) > limits.max_line_bytes:
        raise errors.RemoteProtocolError(
            "line_too_long", "line longer than %d bytes"
            % limits.max_line_bytes, line)
    document = parse_json_line(line, limits)
    version, plan = _envelope(document, line)
    message = plan.schema.cls(**_fields(document, plan, limits, line))
    problem = plan.check(message) if plan.check is not None else None
    if problem:
        raise errors.RemoteProtocolError(
            "invalid_field", "%s: %s" % (plan.schema.type_name, problem),
            line)
    return version, message


def encode(message: events.Message, version: int, limits: Limits) -> bytes:
    """Encode ``message`` as one line, newline included.

    :raises LocalProtocolError: the message does not fit the schema or the
        line would exceed ``limits.max_line_bytes``.
    """
    plan = _BY_CLASS.get(type(message))
    if plan is None:
        raise errors.LocalProtocolError(
            "%s is not a protocol message" % type(message).__name__)
    type_name = plan.schema.type_name
    if plan.template is None:
        line = _encode_document(plan, message, version, limits)
    else:
        # Every value is validated as on the generic path; only the JSON
        # encoder's walk over a dict is left out.
        values = [version]
        for key, attr, decode, _required in plan.fields:
            value = getattr(message, attr)
            try:
                decode(value, limits)
            except (fields.InvalidField, TypeError) as err:
                raise errors.LocalProtocolError(
                    "cannot send %s: '%s' %s" % (type_name, key, err)
                ) from err
            values.append(value)
        line = (plan.template % tuple(values)).encode("utf-8")
    if len(line) > limits.max_line_bytes:
        raise errors.LocalProtocolError(
            "cannot send %s: %d bytes exceed the %d byte line limit"
            % (type_name, len(line), limits.max_line_bytes))
    return line + b"\n"


def _encode_document(plan: _Plan, message: events.Message, version: int,
                     limits: Limits) -> bytes:
    """``message`` through the JSON encoder: any message."""
    message_schema = plan.schema
    document: dict[str, object] = {"v": version,
                                   "type": message_schema.type_name}
    for field in message_schema.fields:
        try:
            document[field.key] = field.kind.encode(
                getattr(message, field.attr), limits)
        except (fields.InvalidField, TypeError, AttributeError) as err:
            raise errors.LocalProtocolError(
                "cannot send %s: '%s' %s"
                % (message_schema.type_name, field.key, err)) from err
    return _ENCODER.encode(document).encode("utf-8")
