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

"""Health messages shrink to fit the line limit instead of failing."""

from __future__ import annotations

import json
import typing

import pytest

from nova_vm_heartbeat.guest import health
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import codec

CHALLENGE = protocol.Challenge(seq=7, nonce="ab" * 16)
FAILED = protocol.Health.FAILED
OK = protocol.Health.OK


def _components(count: int, reason: str) -> health.Components:
    return tuple(protocol.Component(
        "component-%02d" % i, FAILED if i % 2 else OK, reason, i)
        for i in range(count))


def _encoder(limit: int):
    limits = protocol.Limits(max_line_bytes=limit,
                             max_buffer_bytes=max(limit + 1, 65536))

    def encode(message: protocol.Message) -> bytes:
        return codec.encode(message, 1, limits)
    return encode


def _decode(data: bytes) -> typing.Dict[str, typing.Any]:
    assert data.endswith(b"\n")
    body: typing.Dict[str, typing.Any] = json.loads(data)
    return body


def test_small_messages_are_sent_whole() -> None:
    components = _components(3, "fine")
    data = health.encode_fitting(health.response(CHALLENGE, FAILED, 1.0),
                                 components, _encoder(16384))
    body = _decode(data)
    assert body["components"]["component-01"] == {
        "status": "failed", "reason": "fine", "progress": 1}


def test_worst_case_response_fits_the_default_limit() -> None:
    # 32 components, 64-character names, 256 four-byte characters each.
    components = tuple(protocol.Component(
        ("c%02d" % i).ljust(64, "x"), FAILED, "\U0001f525" * 256,
        2 ** 53 - 1) for i in range(32))
    data = health.encode_fitting(health.response(CHALLENGE, FAILED, 1.0),
                                 components, _encoder(16384))
    assert len(data) <= 16385
    body = _decode(data)
    assert len(body["components"]) == 32
    assert body["seq"] == 7 and body["nonce"] == CHALLENGE.nonce


@pytest.mark.parametrize("limit, reason_length", [
    (2000, 64), (1200, 16), (700, 0)])
def test_reasons_are_shortened_then_dropped(limit: int,
                                            reason_length: int) -> None:
    components = _components(10, "r" * 200)
    data = health.encode_fitting(health.report(FAILED, 1.0), components,
                                 _encoder(limit))
    assert len(data) <= limit + 1
    body = _decode(data)
    assert len(body["components"]) == 10
    reasons = {c.get("reason", "") for c in body["components"].values()}
    assert {len(r) for r in reasons} == {reason_length}


def test_healthy_components_go_before_failed_ones() -> None:
    components = _components(30, "")
    data = health.encode_fitting(health.report(FAILED, 1.0), components,
                                 _encoder(900))
    body = _decode(data)
    assert body["health"] == "failed"
    statuses = {c["status"] for c in body["components"].values()}
    assert statuses == {"failed"} and len(body["components"]) == 15


def test_last_resort_is_the_overall_health_alone() -> None:
    data = health.encode_fitting(health.response(CHALLENGE, FAILED, 1.0),
                                 _components(30, "x" * 50), _encoder(200))
    body = _decode(data)
    assert body["health"] == "failed"
    assert body["components"] == {}


def test_a_message_that_is_not_allowed_still_raises() -> None:
    def refuse(message: protocol.Message) -> bytes:
        raise protocol.LocalProtocolError("not now")
    with pytest.raises(protocol.LocalProtocolError, match="not now"):
        health.encode_fitting(health.report(OK, 1.0), (), refuse)
