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

"""The agent's decisions, against a real host Connection, with no I/O."""

from __future__ import annotations

import json
import pathlib
import typing

import pytest

from nova_vm_heartbeat.guest import agent as agent_mod
from nova_vm_heartbeat.guest import api
from nova_vm_heartbeat.guest import session
from nova_vm_heartbeat import protocol
from tests.unit.guest import fakes

OK = protocol.Health.OK
FAILED = protocol.Health.FAILED


@pytest.fixture
def wire() -> fakes.Wire:
    return fakes.Wire()


T = typing.TypeVar("T")


def _only(events: typing.List[object], kind: typing.Type[T]) -> T:
    assert len(events) == 1, events
    event = events[0]
    assert isinstance(event, kind), events
    return event


def test_connect_sends_resync_and_hello(wire: fakes.Wire) -> None:
    events = wire.connect()
    assert isinstance(events[0], protocol.Resync)
    hello = events[1]
    assert isinstance(hello, protocol.Hello)
    assert (hello.version, hello.min_version) == (protocol.MAX_VERSION,
                                                  protocol.MIN_VERSION)
    assert hello.agent == "nova-vm-heartbeat-guest"
    assert hello.boot_id == "b00t-1d"
    assert hello.capabilities == session.CAPABILITIES
    assert hello.monotonic == wire.clock.now
    assert wire.agent.session.state == "await_welcome"


def test_welcome_establishes_and_a_first_report_follows(
        wire: fakes.Wire) -> None:
    wire.connect()
    assert wire.welcome() == []
    assert wire.agent.session.established
    report = _only(wire.to_host(wire.agent.tick()), protocol.Report)
    assert report == protocol.Report(OK, (), wire.clock.now)
    assert wire.to_host(wire.agent.tick()) == []


def test_challenges_are_answered_with_the_health(wire: fakes.Wire) -> None:
    wire.establish()
    wire.registry.notify("web", FAILED, "down", 3, ttl=10)
    response = wire.challenge()
    assert response.health is FAILED
    assert response.components == (
        protocol.Component("web", FAILED, "down", 3),)
    assert response.monotonic == wire.clock.now
    assert wire.agent.session.last_challenge_at == wire.clock.now


def test_reports_are_coalesced(wire: fakes.Wire) -> None:
    wire.establish()
    wire.registry.notify("web", FAILED, ttl=10)
    report = _only(wire.to_host(wire.agent.tick()), protocol.Report)
    assert report.health is FAILED
    wire.registry.notify("web", OK)
    wire.registry.notify("db", OK, ttl=10)
    assert wire.agent.next_deadline() == wire.clock.now + 1.0
    assert wire.to_host(wire.agent.tick()) == []  # within a second
    wire.clock.advance(1.0)
    report = _only(wire.to_host(wire.agent.tick()), protocol.Report)
    assert [c.name for c in report.components] == ["db", "web"]
    wire.registry.notify("web", OK, "same status, new reason")
    wire.clock.advance(5)
    assert wire.to_host(wire.agent.tick()) == []


def test_a_response_counts_as_a_report(wire: fakes.Wire) -> None:
    wire.establish()
    wire.registry.notify("web", FAILED, ttl=10)
    wire.challenge()
    wire.clock.advance(2)
    assert wire.to_host(wire.agent.tick()) == []


def test_expiry_is_a_deadline_and_a_report(wire: fakes.Wire) -> None:
    wire.establish()
    wire.registry.register("web", 3)
    wire.to_host(wire.agent.tick())
    assert wire.agent.next_deadline() == wire.clock.now + 3
    wire.clock.advance(3)
    report = _only(wire.to_host(wire.agent.tick()), protocol.Report)
    assert report.components[0].reason == "no report for 3 s"


def test_hello_is_resent_with_backoff(wire: fakes.Wire) -> None:
    wire.connect()
    delays = []
    for _ in range(6):
        due = wire.agent.next_deadline()
        assert due is not None
        delays.append(due - wire.clock.now)
        wire.clock.now = due
        events = wire.to_host(wire.agent.tick())
        assert [type(e) for e in events] == [protocol.Resync, protocol.Hello]
    assert delays == [5, 10, 20, 30, 30, 30]
    wire.welcome()
    assert wire.agent.session.hello_due is None


def test_host_resync_gets_a_fresh_hello(wire: fakes.Wire) -> None:
    wire.establish()
    events = wire.to_host(wire.agent.received(wire.host.resync()))
    _only(events, protocol.Hello)
    assert not wire.agent.session.established
    wire.welcome()
    assert wire.challenge().health is OK


def test_events_are_handled_in_order(wire: fakes.Wire) -> None:
    wire.establish()
    challenge = protocol.Challenge(seq=1, nonce="cd" * 16)
    data = wire.host.send(challenge) + wire.host.resync()
    lines = wire.agent.received(data).splitlines()
    assert [json.loads(line)["type"] for line in lines] == [
        "response", "hello"]


def test_hello_required_gets_a_hello_but_not_a_flood(
        wire: fakes.Wire) -> None:
    wire.connect()
    error = protocol.Error(code=protocol.ErrorCode.HELLO_REQUIRED)
    assert wire.to_agent(error) == []  # hello was just sent
    wire.clock.advance(1.5)
    _only(wire.to_agent(error), protocol.Hello)


def test_unsupported_version_waits_a_minute(
        wire: fakes.Wire, caplog: pytest.LogCaptureFixture) -> None:
    wire.connect()
    assert wire.to_agent(protocol.Error(
        code=protocol.ErrorCode.UNSUPPORTED_VERSION, reason="too old",
        versions=(7, 9))) == []
    assert "host 7 to 9, agent 1 to 1" in caplog.text
    assert wire.agent.next_deadline() == wire.clock.now + 60
    wire.clock.advance(59)
    assert wire.to_host(wire.agent.tick()) == []
    wire.clock.advance(1)
    assert isinstance(wire.to_host(wire.agent.tick())[-1], protocol.Hello)


def test_bad_input_from_the_host_is_logged_and_skipped(
        wire: fakes.Wire, caplog: pytest.LogCaptureFixture) -> None:
    wire.establish()
    out = wire.agent.received(b'{"v":1,"type":"nonsense\x1b"}\n' * 20)
    assert out == b""
    assert caplog.text.count("Ignored input") == 5
    assert "\x1b" not in caplog.text
    assert wire.challenge().health is OK


def test_maintenance_waits_for_the_ack(wire: fakes.Wire) -> None:
    wire.establish()
    replies = fakes.Replies()
    out = wire.agent.handle(api.Maintenance(900, "upgrade"), replies)
    request = _only(wire.to_host(out), protocol.Maintenance)
    assert request == protocol.Maintenance(900, "upgrade")
    assert replies.replies == []
    wire.to_agent(protocol.Ack(subject=protocol.AckSubject.MAINTENANCE,
                               accepted=True, granted=600))
    assert replies.last == {"ok": True, "accepted": True, "granted": 600,
                            "reason": ""}
    assert wire.agent.status()["maintenance_remaining"] == 600


def test_refused_request_is_an_error_reply(wire: fakes.Wire) -> None:
    wire.establish()
    replies = fakes.Replies()
    wire.to_host(wire.agent.handle(
        api.Recovery(protocol.RecoveryAction.STOP), replies))
    wire.to_agent(protocol.Ack(subject=protocol.AckSubject.REQUEST,
                               accepted=False, reason="not allowed"))
    assert replies.last["ok"] is False
    assert replies.last["error"] == "the host refused: not allowed"


def test_acks_go_to_the_oldest_waiter_of_their_subject(
        wire: fakes.Wire) -> None:
    wire.establish()
    first, second, third = (fakes.Replies() for _ in range(3))
    wire.agent.handle(api.Maintenance(60), first)
    wire.agent.handle(api.Recovery(protocol.RecoveryAction.REBOOT), second)
    wire.agent.handle(api.Maintenance(0), third)
    wire.to_agent(protocol.Ack(subject=protocol.AckSubject.REQUEST,
                               accepted=True))
    wire.to_agent(protocol.Ack(subject=protocol.AckSubject.MAINTENANCE,
                               accepted=True, granted=60))
    assert first.last["granted"] == 60
    assert second.last["ok"] is True
    assert third.replies == []


def test_unanswered_requests_time_out(wire: fakes.Wire) -> None:
    wire.establish()
    replies = fakes.Replies()
    wire.agent.handle(api.Maintenance(60), replies)
    assert wire.agent.next_deadline() == wire.clock.now + 5
    wire.clock.advance(agent_mod.ACK_TIMEOUT)
    wire.agent.tick()
    assert replies.last == {"ok": False, "error":
                            "the host did not answer within 5 s"}


def test_requests_fail_when_the_channel_closes(wire: fakes.Wire) -> None:
    wire.establish()
    replies = fakes.Replies()
    wire.agent.handle(api.Recovery(protocol.RecoveryAction.REBOOT), replies)
    wire.agent.disconnected()
    assert "closed" in replies.last["error"]
    assert wire.agent.session.state == "closed"


def test_waiting_requests_are_bounded(wire: fakes.Wire) -> None:
    wire.establish()
    replies = fakes.Replies()
    for _ in range(agent_mod.MAX_WAITERS):
        wire.agent.handle(api.Maintenance(60), replies)
    assert replies.replies == []
    assert wire.agent.handle(api.Maintenance(60), replies) == b""
    assert "already wait" in replies.last["error"]


def test_requests_need_an_established_channel(wire: fakes.Wire) -> None:
    replies = fakes.Replies()
    assert wire.agent.handle(api.Maintenance(60), replies) == b""
    assert replies.last["ok"] is False
    assert "not established (state: closed)" in replies.last["error"]


def test_local_operations(wire: fakes.Wire) -> None:
    replies = fakes.Replies()
    wire.agent.handle(api.Register("web", 30), replies)
    assert replies.last == {"ok": True, "health": "ok"}
    wire.agent.handle(api.Notify("web", FAILED, "x", 4), replies)
    assert replies.last == {"ok": True, "health": "failed"}
    wire.agent.handle(api.Notify("db", OK), replies)
    assert "not registered" in replies.last["error"]
    wire.agent.handle(api.Unregister("web"), replies)
    assert replies.last == {"ok": True, "health": "ok"}


def test_status(wire: fakes.Wire) -> None:
    wire.establish()
    wire.registry.notify("web", OK, "fine", 9, ttl=30)
    wire.challenge()
    wire.to_agent(protocol.Notice(event=protocol.NoticeEvent.MIGRATE,
                                  deadline=30))
    wire.clock.advance(2)
    replies = fakes.Replies()
    wire.agent.handle(api.Status(), replies)
    assert replies.last == {
        "ok": True, "health": "ok",
        "channel": {"state": "established", "port": "unix:/test",
                    "version": 1, "interval": 1.0, "timeout": 3.0,
                    "max_maintenance": 600, "last_challenge_age": 2.0},
        "components": {"web": {"status": "ok", "reason": "fine",
                               "progress": 9}},
        "last_notice": {"event": "migrate", "deadline": 30, "age": 2.0},
        "maintenance_remaining": None}


def test_goodbye(wire: fakes.Wire) -> None:
    assert wire.agent.goodbye(protocol.ByeReason.SHUTDOWN) == b""
    wire.establish()
    replies = fakes.Replies()
    wire.agent.handle(api.Maintenance(60), replies)
    bye = _only(wire.to_host(wire.agent.goodbye(
        protocol.ByeReason.REBOOT)), protocol.Bye)
    assert bye == protocol.Bye(protocol.ByeReason.REBOOT)
    assert replies.last["error"] == "the agent is stopping"


def test_identity_drops_values_the_wire_refuses() -> None:
    identity = session.Identity(agent="a", agent_version="1.0 beta",
                                boot_id="not a boot id")
    assert (identity.agent_version, identity.boot_id) == ("unknown", "")


def test_boot_id(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "boot_id"
    path.write_text("0b5c6a8e-7d1f-4c2e-9a55-3f0a0c1b2d3e\n")
    assert session.read_boot_id(str(path)) == (
        "0b5c6a8e-7d1f-4c2e-9a55-3f0a0c1b2d3e")
    assert session.read_boot_id(str(tmp_path / "absent")) == ""


def test_stale_response_cannot_be_forged(wire: fakes.Wire) -> None:
    wire.establish()
    with pytest.raises(protocol.LocalProtocolError):
        wire.agent.session.send(protocol.Response(
            seq=99, nonce="ab" * 16, health=OK))
