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

"""The protocol specification and the implementation agree.

``doc/source/reference/protocol.rst`` is the normative description of the
heartbeat channel. This module reads it line by line (no docutils) and
checks it against :mod:`nova_vm_heartbeat.protocol`:

* every ``code-block`` whose ``:caption:`` starts with ``guest → host`` or
  ``host → guest`` holds, one per line, messages that decode and that this
  end sends;
* every block whose caption starts with ``rejected (<kind>)`` holds lines
  that are rejected with a :class:`RemoteProtocolError` of that kind;
* every block whose caption starts with ``conversation`` holds ``G:`` and
  ``H:`` lines that a real host/guest pair sends and receives in that
  order, with both ends agreeing on the session state after each line;
* the tables (transitions, message fields, limits, error kinds, error
  codes, constants) match the tables of the code.

Blocks with any other caption are prose and are not checked.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import pathlib
import re
import typing

import pytest

from nova_vm_heartbeat.protocol import codec
from nova_vm_heartbeat.protocol import connection
from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol import events
from nova_vm_heartbeat.protocol import fields
from nova_vm_heartbeat.protocol import limits
from nova_vm_heartbeat.protocol import schema
from nova_vm_heartbeat.protocol import state
from tests.unit.protocol.helpers import drain
from tests.unit.protocol.helpers import FakeClock

SPEC = (pathlib.Path(__file__).resolve().parents[3]
        / "doc" / "source" / "reference" / "protocol.rst")

#: Fewer checked example lines than this means examples went missing.
MIN_CHECKED_LINES = 15

LIMITS = limits.Limits()

_DIRECTIVE_RE = re.compile(r"(?P<indent> *)\.\. (?P<name>[\w-]+)::"
                           r"(?: +(?P<argument>.*))?\Z")
_OPTION_RE = re.compile(r" +:(?P<name>[\w-]+):(?: +(?P<value>.*))?\Z")
_REJECTED_RE = re.compile(r"rejected \((?P<kind>\w+)\)")
_LITERAL_RE = re.compile(r"``([^`]+)``")

GUEST_TO_HOST = "guest → host"
HOST_TO_GUEST = "host → guest"
CONVERSATION = "conversation"
REJECTED = "rejected"
#: What a caption of a checked block starts with, in any case: a caption
#: that starts so but fits no category is a typo that would hide examples.
_CHECKED_WORDS = ("guest", "host", "rejected", "conversation")


# -- reading the page --------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Line:
    """One line of a directive's body: where it is and what it says."""

    number: int
    text: str

    @property
    def where(self) -> str:
        return "%s:%d" % (SPEC.name, self.number)


@dataclasses.dataclass(frozen=True)
class Directive:
    """A directive of the page, with its options and dedented body."""

    name: str
    argument: str
    options: typing.Dict[str, str]
    body: typing.Tuple[Line, ...]
    number: int

    @property
    def caption(self) -> str:
        return self.options.get("caption", "")

    @property
    def lines(self) -> typing.List[Line]:
        """The non-blank lines of the body."""
        return [line for line in self.body if line.text.strip()]


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _body(lines: typing.List[str], start: int,
          indent: int) -> typing.Tuple[Line, ...]:
    """The lines from ``start`` indented deeper than ``indent``, dedented."""
    end = start
    while end < len(lines) and (not lines[end].strip()
                                or _indent(lines[end]) > indent):
        end += 1
    numbered = [(number + 1, lines[number]) for number in range(start, end)]
    depth = min((_indent(text) for _, text in numbered if text.strip()),
                default=0)
    return tuple(Line(number, text[depth:].rstrip())
                 for number, text in numbered)


def parse_directives(text: str) -> typing.List[Directive]:
    """Every directive in ``text``, in order."""
    lines = text.splitlines()
    found = []
    for index, line in enumerate(lines):
        match = _DIRECTIVE_RE.match(line)
        if match is None:
            continue
        indent = len(match["indent"])
        options: typing.Dict[str, str] = {}
        cursor = index + 1
        while cursor < len(lines):
            option = _OPTION_RE.match(lines[cursor])
            if option is None or _indent(lines[cursor]) <= indent:
                break
            options[option["name"]] = (option["value"] or "").strip()
            cursor += 1
        found.append(Directive(match["name"], match["argument"] or "",
                               options, _body(lines, cursor, indent),
                               index + 1))
    return found


def _read_spec() -> typing.List[Directive]:
    if not SPEC.exists():
        return []
    return parse_directives(SPEC.read_text(encoding="utf-8"))


DIRECTIVES = _read_spec()


def category(caption: str) -> typing.Optional[str]:
    """Which kind of checked example a caption announces, if any."""
    for prefix in (GUEST_TO_HOST, HOST_TO_GUEST, CONVERSATION):
        if caption.startswith(prefix):
            return prefix
    match = _REJECTED_RE.match(caption)
    return REJECTED if match else None


def examples(kind: str) -> typing.List[Directive]:
    return [directive for directive in DIRECTIVES
            if directive.name == "code-block"
            and category(directive.caption) == kind]


def example_lines(kind: str) -> typing.List[typing.Tuple[Directive, Line]]:
    return [(block, line) for block in examples(kind)
            for line in block.lines]


def _ids(items: typing.Sequence[typing.Tuple[Directive, Line]]
         ) -> typing.List[str]:
    return ["line %d" % line.number for _, line in items]


def table(title: str) -> typing.List[typing.List[str]]:
    """The rows of the ``list-table`` titled ``title``, header excluded.

    Each row is a list of cells; a cell's continuation lines are joined
    with single spaces.
    """
    matches = [directive for directive in DIRECTIVES
               if directive.name == "list-table"
               and directive.argument == title]
    assert len(matches) == 1, "want one list-table %r, found %d" % (
        title, len(matches))
    rows: typing.List[typing.List[str]] = []
    for line in matches[0].lines:
        if line.text.startswith("* - "):
            rows.append([line.text[4:].strip()])
        elif line.text.startswith("  - "):
            rows[-1].append(line.text[4:].strip())
        else:
            rows[-1][-1] += " " + line.text.strip()
    header_rows = int(matches[0].options.get("header-rows", "0"))
    return rows[header_rows:]


def literal(cell: str) -> str:
    """The text of a cell that is one ``literal``."""
    match = re.fullmatch(r"``([^`]+)``", cell)
    assert match, "cell %r is not one ``literal``" % cell
    return match.group(1)


def literals(cell: str) -> typing.List[str]:
    return _LITERAL_RE.findall(cell)


def decode(line: Line) -> typing.Tuple[int, events.Message]:
    try:
        return codec.decode_line(line.text.encode("utf-8"), LIMITS)
    except errors.RemoteProtocolError as err:
        pytest.fail("%s: example does not decode: %s" % (line.where, err))


# -- the examples ------------------------------------------------------------

def test_the_spec_exists() -> None:
    assert SPEC.exists(), "%s is missing" % SPEC


def test_enough_examples_are_checked() -> None:
    counts = {kind: len(example_lines(kind)) for kind in (
        GUEST_TO_HOST, HOST_TO_GUEST, REJECTED, CONVERSATION)}
    assert all(counts.values()), "a kind of example is missing: %s" % counts
    assert sum(counts.values()) >= MIN_CHECKED_LINES, counts


def test_captions_that_look_checked_are_checked() -> None:
    for block in DIRECTIVES:
        if block.name != "code-block" or category(block.caption):
            continue
        assert not block.caption.lower().startswith(_CHECKED_WORDS), (
            "%s:%d: caption %r looks like a checked example but fits no "
            "kind (%s, %s, rejected (<kind>), %s)"
            % (SPEC.name, block.number, block.caption, GUEST_TO_HOST,
               HOST_TO_GUEST, CONVERSATION))


def test_every_message_type_has_an_example() -> None:
    shown = set()
    for kind in (GUEST_TO_HOST, HOST_TO_GUEST, CONVERSATION):
        for _, line in example_lines(kind):
            text = line.text[3:] if kind == CONVERSATION else line.text
            shown.add(type(decode(Line(line.number, text))[1]))
    missing = [s.type_name for s in schema.MESSAGES if s.cls not in shown]
    assert not missing, "no checked example of: %s" % ", ".join(missing)


ONE_WAY = ([("guest", line) for _, line in example_lines(GUEST_TO_HOST)]
           + [("host", line) for _, line in example_lines(HOST_TO_GUEST)])


@pytest.mark.parametrize(
    ("sender", "line"), ONE_WAY,
    ids=["%s line %d" % (sender, line.number) for sender, line in ONE_WAY])
def test_one_way_example(sender: str, line: Line) -> None:
    version, message = decode(line)
    assert schema.BY_CLASS[type(message)].sender == sender, (
        "%s: a %s never sends %s" % (line.where, sender,
                                     type(message).__name__))
    encoded = codec.encode(message, version, LIMITS)
    assert codec.decode_line(encoded.rstrip(b"\n"), LIMITS) == (
        version, message), "%s: does not survive encoding" % line.where


@pytest.mark.parametrize(("block", "line"), example_lines(REJECTED),
                         ids=_ids(example_lines(REJECTED)))
def test_rejected_example(block: Directive, line: Line) -> None:
    match = _REJECTED_RE.match(block.caption)
    assert match is not None
    kind = match["kind"]
    assert kind in errors.REMOTE_ERROR_KINDS, (
        "%s: %r is not a remote error kind" % (line.where, kind))
    with pytest.raises(errors.RemoteProtocolError) as caught:
        codec.decode_line(line.text.encode("utf-8"), LIMITS)
    assert caught.value.kind == kind, "%s: rejected as %s: %s" % (
        line.where, caught.value.kind, caught.value)


def _steps(block: Directive) -> typing.List[typing.Tuple[str, Line]]:
    steps = []
    for line in block.lines:
        assert line.text[:3] in ("G: ", "H: "), (
            "%s: a conversation line starts with 'G: ' or 'H: '"
            % line.where)
        steps.append((line.text[0], Line(line.number, line.text[3:])))
    return steps


@pytest.mark.parametrize(
    "block", examples(CONVERSATION),
    ids=["line %d" % block.number for block in examples(CONVERSATION)])
def test_conversation(block: Directive) -> None:
    steps = _steps(block)
    assert steps and steps[0][0] == "G", "a conversation starts with G:"
    hello = decode(steps[0][1])[1]
    assert isinstance(hello, events.Hello), (
        "%s: a conversation starts with hello" % steps[0][1].where)
    clock = FakeClock()
    # The guest speaks the versions its hello offers; the host, the
    # versions of the implementation.
    ends = {
        "G": connection.Connection(connection.GUEST, clock=clock,
                                   min_version=hello.min_version,
                                   max_version=hello.version),
        "H": connection.Connection(connection.HOST, clock=clock)}
    for who, line in steps:
        clock.advance(1.0)
        sender, receiver = ends[who], ends["H" if who == "G" else "G"]
        message = decode(line)[1]
        try:
            sender.send(message)
        except errors.LocalProtocolError as err:
            pytest.fail("%s: the %s may not send this: %s"
                        % (line.where, sender.our_role, err))
        receiver.receive_data(line.text.encode("utf-8") + b"\n")
        try:
            received = drain(receiver)
        except errors.RemoteProtocolError as err:
            pytest.fail("%s: the %s rejects this: %s"
                        % (line.where, receiver.our_role, err))
        assert received == [message], line.where
        assert receiver.state == sender.state, (
            "%s: the host is %s, the guest %s" % (
                line.where, ends["H"].state.value, ends["G"].state.value))


# -- the tables --------------------------------------------------------------

def _event_type(cell: str) -> type:
    if cell == "0xFF byte":
        return events.Resync
    if cell == "end of stream":
        return events.ConnectionClosed
    return schema.BY_TYPE_NAME[literal(cell)].cls


def _states(cell: str) -> typing.List[state.SessionState]:
    if cell == "any state":
        return list(state.SessionState)
    return [state.SessionState(value) for value in literals(cell)]


def test_transition_table() -> None:
    documented: typing.Dict[
        type, typing.Dict[state.SessionState, state.SessionState]] = {}
    for name, sender, allowed, after in table("Session transitions"):
        event_type = _event_type(name)
        assert event_type not in documented, "%s listed twice" % name
        if event_type in schema.BY_CLASS:
            assert sender == schema.BY_CLASS[event_type].sender, name
        documented[event_type] = {
            before: (before if after == "unchanged"
                     else state.SessionState(literal(after)))
            for before in _states(allowed)}
    assert documented == state.TRANSITIONS


def _type_word(kind: fields.Field) -> str:
    """The word the field tables use for a field type."""
    if isinstance(kind, fields.Integer):
        return {(1, 255): "version", (0, 7 * 24 * 3600): "window"}.get(
            (kind.low, kind.high), "integer")
    if isinstance(kind, fields.Number):
        return "seconds" if (kind.low, kind.high) == (0.1, 3600.0) \
            else "number"
    if isinstance(kind, fields.Token):
        if kind.pattern is fields.NONCE_RE:
            return "nonce"
        return "id" if kind.allow_empty else "name"
    words = {fields.Boolean: "boolean", fields.Text: "text",
             fields.Choice: "enum", fields.Names: "list of name",
             fields.VersionRange: "list", fields.Components: "object"}
    return words[type(kind)]


def _number(value: float) -> str:
    return "2^53-1" if value == fields.MAX_SAFE_INT else "%g" % value


def _check_bound(kind: fields.Field, cell: str, where: str) -> None:
    if isinstance(kind, (fields.Integer, fields.Number)):
        bound = "%s..%s" % (_number(kind.low), _number(kind.high))
        assert cell.startswith(bound), "%s: bound is %s" % (where, bound)
    elif isinstance(kind, fields.Choice):
        values = [member.value for member in kind.enum_type]
        assert literals(cell) == values, "%s: values are %s" % (
            where, values)
    elif isinstance(kind, fields.Text):
        assert "``max_string_chars``" in cell, where
    elif isinstance(kind, fields.Components):
        assert "``max_components``" in cell, where
    elif isinstance(kind, fields.Names):
        assert "at most %d" % kind.max_items in cell, where


@pytest.mark.parametrize("message_schema", schema.MESSAGES,
                         ids=[s.type_name for s in schema.MESSAGES])
def test_field_table(message_schema: schema.MessageSchema) -> None:
    rows = table("``%s`` fields" % message_schema.type_name)
    assert [literal(row[0]) for row in rows] == [
        field.key for field in message_schema.fields]
    for row, field in zip(rows, message_schema.fields):
        key, type_word, presence, bound = row[:4]
        where = "%s.%s" % (message_schema.type_name, field.key)
        assert type_word == _type_word(field.kind), where
        assert presence.startswith(
            "required" if field.required else "optional"), where
        _check_bound(field.kind, bound, where)


def test_limits_table() -> None:
    rows = table("Limits")
    documented = {literal(name): float(default) for name, default, _ in rows}
    defaults = limits.Limits()
    assert documented == {
        field.name: float(getattr(defaults, field.name))
        for field in dataclasses.fields(limits.Limits)}


def test_error_kind_table() -> None:
    kinds = [literal(row[0]) for row in table("Remote error kinds")]
    assert kinds == list(errors.REMOTE_ERROR_KINDS)


def _enum_values(enum_type: typing.Type[enum.Enum]) -> typing.List[str]:
    return [member.value for member in enum_type]


def test_error_code_table() -> None:
    codes = [literal(row[0]) for row in table("Error codes")]
    assert codes == _enum_values(events.ErrorCode)


def test_constants_table() -> None:
    for name, value, _ in table("Protocol constants"):
        module_name, _, attribute = literal(name).rpartition(".")
        module = importlib.import_module(
            "nova_vm_heartbeat.protocol." + module_name)
        actual = getattr(module, attribute)
        if isinstance(actual, bytes):
            actual = actual[0]
        assert int(literal(value), 0) == actual, name
