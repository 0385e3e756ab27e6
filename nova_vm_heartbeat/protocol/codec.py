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
        document = _DECODER.decode(text)
    except (ValueError, RecursionError) as err:
        raise errors.RemoteProtocolError(
            "invalid_json", "line is not valid JSON: %s" % err, line
        ) from err
    if not isinstance(document, dict):
        raise errors.RemoteProtocolError(
            "invalid_json", "line is not a JSON object", line)
    return document


def _envelope(document: dict[str, object],
              line: bytes) -> typing.Tuple[int, schema.MessageSchema]:
    version = document.get("v")
    if isinstance(version, bool) or not isinstance(version, int) \
            or not 1 <= version <= 255:
        raise errors.RemoteProtocolError(
            "invalid_field", "'v' must be an integer from 1 to 255", line)
    type_name = document.get("type")
    if not isinstance(type_name, str):
        raise errors.RemoteProtocolError(
            "invalid_field", "'type' must be a string", line)
    message_schema = schema.BY_TYPE_NAME.get(type_name)
    if message_schema is None:
        raise errors.RemoteProtocolError(
            "unknown_type", "unknown message type %s"
            % errors.excerpt(type_name, 32), line)
    return version, message_schema


def _fields(document: dict[str, object], message_schema: schema.MessageSchema,
            limits: Limits, line: bytes) -> dict[str, typing.Any]:
    values: dict[str, typing.Any] = {}
    for field in message_schema.fields:
        if field.key not in document:
            if field.required:
                raise errors.RemoteProtocolError(
                    "invalid_field", "%s: '%s' is required"
                    % (message_schema.type_name, field.key), line)
            continue
        try:
            values[field.attr] = field.kind.decode(document[field.key],
                                                   limits)
        except fields.InvalidField as err:
            raise errors.RemoteProtocolError(
                "invalid_field", "%s: '%s' %s"
                % (message_schema.type_name, field.key, err), line) from err
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
    version, message_schema = _envelope(document, line)
    values = _fields(document, message_schema, limits, line)
    message = message_schema.cls(**values)
    check = schema.CROSS_CHECKS.get(message_schema.cls)
    problem = check(message) if check else None
    if problem:
        raise errors.RemoteProtocolError(
            "invalid_field", "%s: %s" % (message_schema.type_name, problem),
            line)
    return version, message


def encode(message: events.Message, version: int, limits: Limits) -> bytes:
    """Encode ``message`` as one line, newline included.

    :raises LocalProtocolError: the message does not fit the schema or the
        line would exceed ``limits.max_line_bytes``.
    """
    message_schema = schema.BY_CLASS.get(type(message))
    if message_schema is None:
        raise errors.LocalProtocolError(
            "%s is not a protocol message" % type(message).__name__)
    document: dict[str, object] = {"v": version,
                                   "type": message_schema.type_name}
    for field in message_schema.fields:
        value = getattr(message, field.attr)
        try:
            document[field.key] = field.kind.encode(value, limits)
        except (fields.InvalidField, TypeError, AttributeError) as err:
            raise errors.LocalProtocolError(
                "cannot send %s: '%s' %s"
                % (message_schema.type_name, field.key, err)) from err
    line = _ENCODER.encode(document).encode("utf-8")
    if len(line) > limits.max_line_bytes:
        raise errors.LocalProtocolError(
            "cannot send %s: %d bytes exceed the %d byte line limit"
            % (message_schema.type_name, len(line), limits.max_line_bytes))
    return line + b"\n"
