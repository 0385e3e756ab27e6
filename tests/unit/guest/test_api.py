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

"""Application API requests: every bad input is an ApiError, with a
message that says what is wrong; good input becomes typed requests."""

from __future__ import annotations

import json

import pytest

from nova_vm_heartbeat.guest import api
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import codec
from nova_vm_heartbeat.protocol import fields


def _line(**document: object) -> bytes:
    return json.dumps(document).encode()


GOOD = [
    (_line(op="register", component="web", ttl=30),
     api.Register("web", 30.0)),
    (_line(op="register", component="web", ttl=0.5),
     api.Register("web", 0.5)),
    (_line(op="notify", component="web", status="ok"),
     api.Notify("web", protocol.Health.OK)),
    (_line(op="notify", component="db", status="failed", reason="lag",
           progress=12, ttl=60),
     api.Notify("db", protocol.Health.FAILED, "lag", 12, 60.0)),
    (_line(op="notify", component="web", status="ok", reason=None),
     api.Notify("web", protocol.Health.OK)),
    (_line(op="unregister", component="web"), api.Unregister("web")),
    (_line(op="maintenance", duration=600, reason="upgrade"),
     api.Maintenance(600, "upgrade")),
    (_line(op="maintenance", duration=0), api.Maintenance(0)),
    (_line(op="request", action="reboot", reason="wedged"),
     api.Recovery(protocol.RecoveryAction.REBOOT, "wedged")),
    (_line(op="request", action="stop"),
     api.Recovery(protocol.RecoveryAction.STOP)),
    (_line(op="status"), api.Status()),
    (b'  {"op": "status"}  \r', api.Status()),
]


@pytest.mark.parametrize("line, expected", GOOD)
def test_valid_requests(line: bytes, expected: api.Request) -> None:
    assert api.parse_request(line) == expected


def test_reasons_are_cleaned_and_cut() -> None:
    request = api.parse_request(_line(op="notify", component="web",
                                      status="failed",
                                      reason="a\tb\n" + "x" * 500))
    assert isinstance(request, api.Notify)
    assert request.reason.startswith("a b x")
    assert len(request.reason) == 256


HOSTILE_REASONS = [
    "disk \u202efull",          # right-to-left override
    "a\u2066b\u2069c",          # isolates
    "nul\x00here\x85next",      # C0 and C1 controls
    "lone \ud800 surrogate",
]


@pytest.mark.parametrize("reason", HOSTILE_REASONS)
def test_cleaned_reasons_pass_the_codec(reason: str) -> None:
    # The guest cleans with the codec's rules: what it accepts, the codec
    # encodes, so a report never loses its reasons to one bad character.
    request = api.parse_request(_line(op="notify", component="web",
                                      status="failed", reason=reason))
    assert isinstance(request, api.Notify)
    report = protocol.Report(protocol.Health.FAILED, (protocol.Component(
        "web", protocol.Health.FAILED, request.reason),))
    line = codec.encode(report, 1, protocol.DEFAULT_LIMITS)
    _, decoded = codec.decode_line(line.rstrip(b"\n"),
                                   protocol.DEFAULT_LIMITS)
    assert decoded == report
    maintenance = api.parse_request(_line(op="maintenance", duration=60,
                                          reason=reason))
    assert isinstance(maintenance, api.Maintenance)
    fields.Text().decode(maintenance.reason, protocol.DEFAULT_LIMITS)


BAD = [
    # framing and JSON
    (b"x" * (api.MAX_REQUEST_BYTES + 1), "longer than 4096"),
    (b"not json", "not valid JSON"),
    (b"\xff\xfe{}", "UTF-8"),
    (b"[1, 2]", "not a JSON object"),
    (b'"status"', "not a JSON object"),
    (b"{}", "'op' is required"),
    (b'{"op": "status", "op": "status"}', "duplicate"),
    (b'{"op": "status", "x": NaN}', "not valid JSON"),
    (b'{"op": "status", "x": [[[[[[1]]]]]]}', "deeper"),
    # the operation
    (_line(op=1), "'op' is required and must be a string"),
    (_line(op="bogus"), "unknown op bogus"),
    (_line(op="status", extra=1), "unknown field extra"),
    # register
    (_line(op="register", component="web"), "'ttl' is required"),
    (_line(op="register", ttl=5), "'component' is required"),
    (_line(op="register", component="web", ttl="5"), "must be a number"),
    (_line(op="register", component="web", ttl=True), "must be a number"),
    (_line(op="register", component="web", ttl=0), "'ttl' must be between"),
    (_line(op="register", component="web", ttl=1e9), "'ttl' must be betw"),
    (_line(op="register", component=5, ttl=5), "must be a string"),
    (_line(op="register", component="bad name", ttl=5), "invalid component"),
    (_line(op="register", component="", ttl=5), "invalid component"),
    (_line(op="register", component="x" * 65, ttl=5), "invalid component"),
    # notify
    (_line(op="notify", component="web"), "'status' is required"),
    (_line(op="notify", component="web", status="fine"),
     "must be one of: ok, failed"),
    (_line(op="notify", component="web", status="ok", reason=5),
     "'reason' must be a string"),
    (_line(op="notify", component="web", status="ok", progress=-1),
     "must be between 0"),
    (_line(op="notify", component="web", status="ok", progress=1.5),
     "must be an integer"),
    (_line(op="notify", component="web", status="ok", progress=2 ** 60),
     "must be between 0"),
    (_line(op="notify", component="web", status="ok", progress=False),
     "must be an integer"),
    (_line(op="notify", component="web", status="ok", ttl=[1]),
     "must be a number"),
    # unregister
    (_line(op="unregister"), "'component' is required"),
    # maintenance
    (_line(op="maintenance"), "'duration' is required"),
    (_line(op="maintenance", duration=-5), "must be between 0 and 604800"),
    (_line(op="maintenance", duration=10 ** 7), "must be between"),
    (_line(op="maintenance", duration="60"), "must be an integer"),
    (_line(op="maintenance", duration=60.5), "must be an integer"),
    (_line(op="maintenance", duration=60, reason={}), "must be a string"),
    # request
    (_line(op="request"), "'action' is required"),
    (_line(op="request", action="explode"), "must be one of: reboot, stop"),
    (_line(op="request", action="reboot", reason=["x"]), "must be a string"),
    # status
    (_line(op="status", verbose=True), "unknown field verbose"),
]


@pytest.mark.parametrize("line, message", BAD)
def test_invalid_requests(line: bytes, message: str) -> None:
    with pytest.raises(api.ApiError, match=message.replace("(", r"\(")):
        api.parse_request(line)


def test_error_messages_escape_what_the_client_sent() -> None:
    with pytest.raises(api.ApiError) as info:
        api.parse_request(_line(op="bo\x1b[31mgus"))
    assert "\x1b" not in str(info.value)


def test_replies_are_one_json_line() -> None:
    line = api.encode_reply(api.ok_reply(health="ok"))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {"ok": True, "health": "ok"}
    assert json.loads(api.encode_reply(api.error_reply("why"))) == {
        "ok": False, "error": "why"}
