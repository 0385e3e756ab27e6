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

"""Messages to lines and back, and every bound on the way in."""

from __future__ import annotations

import json
import typing

from hypothesis import given
from hypothesis import strategies as st
import pytest

from nova_vm_heartbeat.protocol import codec
from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol import events as ev
from nova_vm_heartbeat.protocol.limits import Limits
from nova_vm_heartbeat.protocol import schema
from tests.unit.protocol import strategies

LIMITS = Limits()
NONCE = "0123456789abcdef0123456789abcdef"


def decode(document: object, limits: Limits = LIMITS) -> ev.Message:
    line = json.dumps(document).encode()
    return codec.decode_line(line, limits)[1]


def rejected(document: object, limits: Limits = LIMITS) -> str:
    line = (document if isinstance(document, bytes)
            else json.dumps(document).encode())
    with pytest.raises(errors.RemoteProtocolError) as raised:
        codec.decode_line(line, limits)
    assert raised.value.kind in errors.REMOTE_ERROR_KINDS
    return raised.value.kind


def report(**fields: object) -> dict[str, object]:
    return dict({"v": 1, "type": "report", "health": "ok"}, **fields)


@given(strategies.messages)
def test_round_trip(message: ev.Message) -> None:
    line = codec.encode(message, 1, LIMITS)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert codec.decode_line(line[:-1], LIMITS)[1] == message


def test_every_message_class_has_a_schema() -> None:
    assert {s.cls for s in schema.MESSAGES} == set(
        ev.Message.__subclasses__())


def test_wire_form_is_compact_and_ordered() -> None:
    line = codec.encode(ev.Challenge(7, NONCE), 1, LIMITS)
    assert line == (b'{"v":1,"type":"challenge","seq":7,"nonce":"%s"}\n'
                    % NONCE.encode())


@given(strategies.messages, st.integers(1, 255))
def test_every_line_is_what_the_json_encoder_writes(message: ev.Message,
                                                    version: int) -> None:
    """The templates of simple messages write the generic path's bytes."""
    plan = codec._BY_CLASS[type(message)]
    assert codec.encode(message, version, LIMITS) == \
        codec._encode_document(plan, message, version, LIMITS) + b"\n"


def test_only_messages_json_writes_verbatim_have_a_template() -> None:
    templated = {plan.schema.type_name for plan in codec._BY_CLASS.values()
                 if plan.template is not None}
    assert templated == {"challenge"}
    for pattern in codec._JSON_SAFE_PATTERNS:
        for char in '"\\\x00\x1f\x7f\u00e9\u2028':
            assert not pattern.search(char), (pattern, char)


@pytest.mark.parametrize("seq, nonce", [
    (-1, NONCE), (True, NONCE), (1.0, NONCE), (2 ** 53, NONCE),
    (1, NONCE.upper()), (1, NONCE + '"'), (1, 7), (1, "a\\" + NONCE)])
def test_a_templated_message_is_validated_like_any_other(
        seq: object, nonce: object) -> None:
    with pytest.raises(errors.LocalProtocolError, match="cannot send"):
        codec.encode(ev.Challenge(seq, nonce), 1,  # type: ignore[arg-type]
                     LIMITS)


def test_unknown_keys_are_ignored() -> None:
    assert decode(report(future_field=[1, 2])) == ev.Report(ev.Health.OK)


def test_optional_fields_take_defaults() -> None:
    message = decode({"v": 1, "type": "maintenance", "duration": 60})
    assert message == ev.Maintenance(60, "")


@pytest.mark.parametrize("document,kind", [
    (b"\xc3\x28", "invalid_utf8"),
    (b"not json", "invalid_json"),
    (b"[1, 2]", "invalid_json"),
    (b'{"v":1,"type":"report","health":"ok"', "invalid_json"),
    (b'{"v":1,"type":"report","health":"ok","health":"ok"}', "invalid_json"),
    (b'{"v":1,"type":"report","health":"ok","mono":NaN}', "invalid_json"),
    (b'{"v":1,"type":"report","health":"ok","mono":Infinity}',
     "invalid_json"),
    (b'{"v":1,"type":"report","health":"ok","x":' + b"9" * 5000 + b"}",
     "invalid_json"),
    (b'{"v":1,"type":"report","x":' + b"[" * 9 + b"]" * 9 + b"}",
     "too_deep"),
    (b'{"v":1,"type":"report","x":"' + b"[" * 100 + b'"}', "invalid_field"),
    ({"type": "report", "health": "ok"}, "invalid_field"),
    ({"v": True, "type": "report", "health": "ok"}, "invalid_field"),
    ({"v": 0, "type": "report", "health": "ok"}, "invalid_field"),
    ({"v": 256, "type": "report", "health": "ok"}, "invalid_field"),
    ({"v": 1, "type": 5}, "invalid_field"),
    ({"v": 1, "type": "launch_missiles"}, "unknown_type"),
    (report(health="meh"), "invalid_field"),
    (report(mono=-1), "invalid_field"),
    (report(mono="12"), "invalid_field"),
    (report(components=[]), "invalid_field"),
    (report(components={"web": "ok"}), "invalid_field"),
    (report(components={"web": {"status": "ok", "progress": -1}}),
     "invalid_field"),
    (report(components={"web": {"status": "ok", "progress": 1.5}}),
     "invalid_field"),
    (report(components={"web": {"status": "ok", "progress": True}}),
     "invalid_field"),
    (report(components={"bad name": {"status": "ok"}}), "invalid_field"),
    (report(components={"web": {"status": "ok", "reason": "a\nb"}}),
     "invalid_field"),
    (report(components={"web": {"status": "ok", "reason": "r" * 257}}),
     "invalid_field"),
    (b'{"v":1,"type":"maintenance","duration":1,"reason":"\\ud800"}',
     "invalid_field"),
    (report(components={"web": {"status": "ok", "reason": "\x9b2J"}}),
     "invalid_field"),
    ({"v": 1, "type": "request", "action": "stop",
      "reason": "evil\u202egnp.exe"}, "invalid_field"),
    ({"v": 2, "type": "hello", "min_v": 3, "agent": "a",
      "agent_version": "1"}, "invalid_field"),
    (report(components={"c%d" % i: {"status": "ok"} for i in range(33)}),
     "invalid_field"),
    ({"v": 1, "type": "response", "seq": 1, "nonce": "XYZ",
      "health": "ok"}, "invalid_field"),
    ({"v": 1, "type": "response", "seq": 2 ** 53, "nonce": NONCE,
      "health": "ok"}, "invalid_field"),
    ({"v": 1, "type": "maintenance", "duration": 7 * 86400 + 1},
     "invalid_field"),
    ({"v": 1, "type": "request", "action": "format_disk"}, "invalid_field"),
    ({"v": 1, "type": "bye"}, "invalid_field"),
    ({"v": 1, "type": "hello", "min_v": 1, "agent": "a",
      "agent_version": "1", "caps": ["x"] * 17}, "invalid_field"),
    ({"v": 1, "type": "welcome", "interval": 0, "timeout": 3,
      "max_maintenance": 60}, "invalid_field"),
    ({"v": 1, "type": "error", "code": "unsupported_version",
      "versions": [3, 1]}, "invalid_field"),
])
def test_rejected(document: object, kind: str) -> None:
    assert rejected(document) == kind


def test_line_limit() -> None:
    limits = Limits(max_line_bytes=64, max_buffer_bytes=128)
    assert rejected(report(pad="x" * 64), limits) == "line_too_long"


def test_depth_limit_is_configurable() -> None:
    nested = report(x=[[[1]]])
    assert decode(nested) == ev.Report(ev.Health.OK)
    assert rejected(nested, Limits(max_depth=3)) == "too_deep"


def test_brackets_inside_strings_do_not_count() -> None:
    message = decode(report(components={"web": {
        "status": "ok", "reason": "[{" * 100}}))
    assert isinstance(message, ev.Report)


def test_string_limit_is_configurable() -> None:
    long_reason = {"v": 1, "type": "maintenance", "duration": 1,
                   "reason": "r" * 20}
    assert decode(long_reason).reason == "r" * 20  # type: ignore
    assert rejected(long_reason, Limits(max_string_chars=10)) == \
        "invalid_field"


def test_component_limit_is_configurable() -> None:
    two = report(components={"a": {"status": "ok"}, "b": {"status": "ok"}})
    assert rejected(two, Limits(max_components=1)) == "invalid_field"


def test_excerpt_in_error_is_escaped() -> None:
    with pytest.raises(errors.RemoteProtocolError) as raised:
        codec.decode_line(b"\x1b]0;pwned\x07 not json", LIMITS)
    assert "\x1b" not in str(raised.value)
    assert "\\x1b" in raised.value.excerpt


def test_encode_refuses_non_messages() -> None:
    with pytest.raises(errors.LocalProtocolError):
        codec.encode(ev.Resync(), 1, LIMITS)  # type: ignore[arg-type]


def test_encode_refuses_oversized_lines() -> None:
    limits = Limits(max_line_bytes=40, max_buffer_bytes=100)
    with pytest.raises(errors.LocalProtocolError, match="line limit"):
        codec.encode(ev.Maintenance(1, "x" * 30), 1, limits)


def test_encode_refuses_invalid_values() -> None:
    with pytest.raises(errors.LocalProtocolError, match="nonce"):
        codec.encode(ev.Challenge(1, "not hex"), 1, LIMITS)
    with pytest.raises(errors.LocalProtocolError, match="health"):
        codec.encode(ev.Report("bad"), 1, LIMITS)  # type: ignore[arg-type]


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=40)


def _outcome(parse: typing.Callable[[str], object],
             text: str) -> typing.Tuple[str, object]:
    try:
        return "ok", parse(text)
    except ValueError as err:
        return "error", str(err)


@given(st.one_of(
    _json_values.map(json.dumps),
    st.tuples(st.sampled_from(["", " ", "\t", "\r\n "]),
              _json_values.map(json.dumps),
              st.sampled_from(["", " ", "x", " 1", " {}", "\t\t["]),
              ).map("".join),
    st.text(alphabet=' \t\r\n{}[]":,0123456789ax', max_size=12)))
def test_the_json_fast_path_answers_as_the_decoder_does(text: str) -> None:
    """Same value or same error, whitespace and extra data included."""
    assert _outcome(codec._decode_json, text) == \
        _outcome(codec._DECODER.decode, text)


@given(_json_values, st.integers(1, 10))
def test_depth_check_matches_real_nesting(value: object,
                                          max_depth: int) -> None:
    line = json.dumps(value).encode()
    assert codec._too_deep(line, max_depth) == (_depth(value) > max_depth)
