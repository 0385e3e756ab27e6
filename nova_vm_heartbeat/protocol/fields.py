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

"""Field types of the wire schema: validate on the way in and out.

Each field type turns a decoded JSON value into the typed value the events
hold (:meth:`Field.decode`) and back (:meth:`Field.encode`). A value that
does not fit raises :class:`InvalidField` with a short reason; the codec
turns it into a remote error (input) or a local error (output).
"""

from __future__ import annotations

import enum
import math
import re
import typing

from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol import events
from nova_vm_heartbeat.protocol.limits import Limits

#: The largest integer every JSON implementation represents exactly.
MAX_SAFE_INT = 2 ** 53 - 1

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+~-]{0,63}\Z")
NONCE_RE = re.compile(r"[0-9a-f]{16,64}\Z")
# C0 and C1 controls, DEL, lone surrogates (not encodable as UTF-8) and
# bidirectional overrides: nothing a reason needs, all trouble in a log.
_CONTROL_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


class InvalidField(ValueError):
    """A value does not fit its field type."""


class Field:
    """A field type; subclasses validate and convert one JSON value."""

    def decode(self, value: object, limits: Limits) -> typing.Any:
        raise NotImplementedError

    def encode(self, value: typing.Any, limits: Limits) -> object:
        self.decode(value, limits)
        return value


class Integer(Field):
    def __init__(self, low: int = 0, high: int = MAX_SAFE_INT):
        self.low, self.high = low, high

    def decode(self, value: object, limits: Limits) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidField("must be an integer")
        if not self.low <= value <= self.high:
            raise InvalidField("must be between %d and %d"
                               % (self.low, self.high))
        return value


class Number(Field):
    def __init__(self, low: float = 0.0, high: float = float(MAX_SAFE_INT)):
        self.low, self.high = low, high

    def decode(self, value: object, limits: Limits) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidField("must be a number")
        if not math.isfinite(value) or not self.low <= value <= self.high:
            raise InvalidField("must be between %g and %g"
                               % (self.low, self.high))
        return float(value)


class Boolean(Field):
    def decode(self, value: object, limits: Limits) -> bool:
        if not isinstance(value, bool):
            raise InvalidField("must be true or false")
        return value


class Text(Field):
    """Free text, bounded by ``Limits.max_string_chars``.

    Control characters, lone surrogates and bidirectional overrides are
    refused, so the text is safe to encode, log and forward.
    """

    def decode(self, value: object, limits: Limits) -> str:
        if not isinstance(value, str):
            raise InvalidField("must be a string")
        if len(value) > limits.max_string_chars:
            raise InvalidField("must be at most %d characters"
                               % limits.max_string_chars)
        if _CONTROL_RE.search(value):
            raise InvalidField("must not contain control characters, "
                               "surrogates or bidirectional overrides")
        return value


class Token(Field):
    """A string matching a fixed pattern (names, nonces, identifiers)."""

    def __init__(self, pattern: typing.Pattern[str], what: str,
                 allow_empty: bool = False):
        self.pattern, self.what = pattern, what
        self.allow_empty = allow_empty

    def decode(self, value: object, limits: Limits) -> str:
        if not isinstance(value, str):
            raise InvalidField("must be a string")
        if value == "" and self.allow_empty:
            return value
        if not self.pattern.match(value):
            raise InvalidField("must be %s" % self.what)
        return value


class Choice(Field):
    """One value of a string enumeration."""

    def __init__(self, enum_type: typing.Type[enum.Enum]):
        self.enum_type = enum_type
        self._members = {member.value: member for member in enum_type}

    def decode(self, value: object, limits: Limits) -> enum.Enum:
        # A dict lookup for the common case, a wire string: the enum's
        # own lookup is a Python-level call several times dearer.
        if value.__class__ is str:
            member = self._members.get(value)
            if member is not None:
                return member
        try:
            return self.enum_type(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in self.enum_type)
            raise InvalidField("must be one of: %s" % allowed) from None

    def encode(self, value: typing.Any, limits: Limits) -> object:
        return self.decode(value, limits).value


class Names(Field):
    """A short list of names, as a tuple."""

    def __init__(self, max_items: int):
        self.max_items = max_items
        self.item = Token(NAME_RE, "a name of 1 to 64 letters, digits "
                          "or _.:+~-")

    def decode(self, value: object, limits: Limits) -> typing.Tuple[str, ...]:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise InvalidField("must be a list")
        if len(value) > self.max_items:
            raise InvalidField("must have at most %d items" % self.max_items)
        return tuple(self.item.decode(item, limits) for item in value)

    def encode(self, value: typing.Any, limits: Limits) -> object:
        return list(self.decode(value, limits))


class VersionRange(Field):
    """``[lowest, highest]`` protocol versions."""

    _version = Integer(1, 255)

    def decode(self, value: object,
               limits: Limits) -> typing.Optional[typing.Tuple[int, int]]:
        if value is None:
            return None
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise InvalidField("must be a list of two versions")
        low, high = (self._version.decode(v, limits) for v in value)
        if low > high:
            raise InvalidField("must be [lowest, highest]")
        return (low, high)

    def encode(self, value: typing.Any, limits: Limits) -> object:
        decoded = self.decode(value, limits)
        return None if decoded is None else list(decoded)


class Components(Field):
    """A map of component name to its status, reason and progress."""

    _name = Token(NAME_RE, "a name of 1 to 64 letters, digits or _.:+~-")
    _status = Choice(events.Health)
    _reason = Text()
    _progress = Integer()

    def decode(self, value: object,
               limits: Limits) -> typing.Tuple[events.Component, ...]:
        if not isinstance(value, dict):
            raise InvalidField("must be an object")
        if not value:  # the usual answer: nothing to report
            return ()
        if len(value) > limits.max_components:
            raise InvalidField("must have at most %d components"
                               % limits.max_components)
        return tuple(self._component(name, body, limits)
                     for name, body in value.items())

    def _component(self, name: object, body: object,
                   limits: Limits) -> events.Component:
        if not isinstance(body, dict):
            raise InvalidField("component %s must be an object"
                               % errors.excerpt(str(name)))
        progress = body.get("progress")
        return events.Component(
            name=self._name.decode(name, limits),
            status=typing.cast(events.Health,
                               self._status.decode(body.get("status"),
                                                   limits)),
            reason=self._reason.decode(body.get("reason", ""), limits),
            progress=(None if progress is None
                      else self._progress.decode(progress, limits)))

    def encode(self, value: typing.Any, limits: Limits) -> object:
        if len(value) > limits.max_components:
            raise InvalidField("must have at most %d components"
                               % limits.max_components)
        return {c.name: self._encode_component(c, limits) for c in value}

    def _encode_component(self, component: events.Component,
                          limits: Limits) -> typing.Dict[str, object]:
        body: typing.Dict[str, object] = {
            "status": self._status.encode(component.status, limits)}
        if component.reason:
            body["reason"] = self._reason.encode(component.reason, limits)
        if component.progress is not None:
            body["progress"] = self._progress.encode(component.progress,
                                                     limits)
        self._name.decode(component.name, limits)
        return body


def clean_text(text: str, max_chars: int) -> str:
    """``text`` made acceptable to :class:`Text` rather than refused.

    For a sender that would rather deliver a damaged reason than none:
    every character :class:`Text` refuses becomes a space, and text longer
    than ``max_chars`` is cut, ending in ``...``.
    """
    text = _CONTROL_RE.sub(" ", text).strip()
    if len(text) > max_chars:
        text = text[:max(0, max_chars - 3)] + "..."
    return text
