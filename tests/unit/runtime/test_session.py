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

"""The host end of a session: what guest bytes amount to, what goes back."""

from __future__ import annotations

import logging
import secrets
import typing

import pytest

from nova_vm_heartbeat.monitor import actions as act
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import events
from nova_vm_heartbeat.protocol.limits import MAX_MAINTENANCE
from nova_vm_heartbeat.runtime import session as session_mod
from nova_vm_heartbeat.runtime.session import HostSession
from nova_vm_heartbeat.runtime.session import Terms
from tests.unit.protocol.helpers import drain
from tests.unit.protocol.helpers import FakeClock

TERMS = Terms(interval=2.0, timeout=1.0, max_maintenance=600)
HELLO = protocol.Hello(version=1, min_version=1, agent="agent",
                       agent_version="1.0", boot_id="boot-1")


class Guest:
    """A guest protocol end talking to a HostSession."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.host = HostSession("uuid (instance-1)", "instance-1", TERMS,
                                protocol.DEFAULT_LIMITS, self.clock)
        self.conn = protocol.Connection(protocol.GUEST, clock=self.clock)
        self.heard: typing.List[events.Event] = []
        self.hear(self.host.start())

    def hear(self, data: typing.Optional[bytes]) -> None:
        if data:
            self.conn.receive_data(data)
            self.heard += drain(self.conn)

    def say(self, *messages: events.Message,
            raw: bytes = b"") -> session_mod.Received:
        data = raw + b"".join(self.conn.send(m) for m in messages)
        received = self.host.receive(data)
        self.hear(received.replies)
        return received

    def greet(self) -> session_mod.Received:
        return self.say(HELLO)


def test_start_sends_resync_with_a_fresh_connection() -> None:
    guest = Guest()
    assert guest.heard == [events.Resync()]
    first = guest.host.conn
    assert guest.host.start() == b"\xff"
    assert guest.host.conn is not first


def test_hello_is_welcomed_with_the_terms() -> None:
    guest = Guest()
    received = guest.greet()
    assert received.signals == [sig.AgentGreeted("boot-1")]
    welcome = guest.heard[-1]
    assert isinstance(welcome, protocol.Welcome)
    assert (welcome.interval, welcome.timeout, welcome.max_maintenance) \
        == (2.0, 1.0, 600)
    assert welcome.session == "instance-1.1"
    assert guest.host.established


def test_unsupported_versions_get_an_error_and_no_session() -> None:
    guest = Guest()
    hello = protocol.Hello(version=3, min_version=2, agent="future",
                           agent_version="3.0")
    received = guest.host.receive(
        b'{"v":3,"type":"hello","min_v":2,"agent":"future",'
        b'"agent_version":"3.0"}\n')
    guest.hear(received.replies)
    assert received.signals == []
    error = guest.heard[-1]
    assert isinstance(error, protocol.Error)
    assert error.code is protocol.ErrorCode.UNSUPPORTED_VERSION
    assert error.versions == (protocol.MIN_VERSION, protocol.MAX_VERSION)
    assert not guest.host.established
    assert hello.version == 3


def test_guest_messages_become_signals() -> None:
    guest = Guest()
    guest.greet()
    challenge = guest.host.challenge(7)
    assert challenge is not None
    guest.hear(challenge)
    sent = guest.heard[-1]
    assert isinstance(sent, protocol.Challenge) and len(sent.nonce) == 32
    received = guest.say(
        protocol.Response(seq=7, nonce=sent.nonce,
                          health=protocol.Health.OK),
        protocol.Report(health=protocol.Health.FAILED),
        protocol.Maintenance(duration=60, reason="upgrade"),
        protocol.Request(action=protocol.RecoveryAction.REBOOT),
        protocol.Bye(reason=protocol.ByeReason.REBOOT))
    assert received.signals == [
        sig.HeartbeatAnswered(7, protocol.Health.OK, ()),
        sig.HealthReported(protocol.Health.FAILED, ()),
        sig.MaintenanceRequested(60, "upgrade"),
        sig.RecoveryRequested(protocol.RecoveryAction.REBOOT, ""),
        sig.AgentLeft(protocol.ByeReason.REBOOT),
    ]


def test_challenge_nonces_are_fresh_and_drawn_in_batches(
        monkeypatch: pytest.MonkeyPatch) -> None:
    draws: typing.List[int] = []
    real = secrets.token_bytes

    def token_bytes(n: int) -> bytes:
        draws.append(n)
        return real(n)

    monkeypatch.setattr(secrets, "token_bytes", token_bytes)
    nonces = session_mod.NonceSource(per_draw=4)
    taken = [nonces.next() for _ in range(10)]
    assert len(set(taken)) == 10
    assert all(len(n) == 2 * session_mod.NONCE_BYTES for n in taken)
    assert all(int(n, 16) >= 0 for n in taken)
    assert draws == [4 * session_mod.NONCE_BYTES] * 3


def test_acks_and_challenges_need_a_session() -> None:
    guest = Guest()
    ack = act.SendAck(protocol.AckSubject.MAINTENANCE, True, 10 ** 9, "x")
    assert guest.host.challenge(1) is None
    assert guest.host.ack(ack) is None
    guest.greet()
    guest.hear(guest.host.ack(ack))
    sent = guest.heard[-1]
    assert isinstance(sent, protocol.Ack)
    assert sent.granted == MAX_MAINTENANCE


def test_resync_and_end_of_stream() -> None:
    guest = Guest()
    guest.greet()
    received = guest.host.receive(b"\xff")
    assert received.signals == [sig.ChannelLost(sig.Channel.HEARTBEAT)]
    received = guest.host.receive(b"")
    assert received.closed


def test_two_hellos_and_the_stale_answer_between_them_are_normal(
        caplog: pytest.LogCaptureFixture) -> None:
    guest = Guest()
    guest.greet()
    guest.hear(guest.host.challenge(1))
    first = guest.heard[-1]
    assert isinstance(first, protocol.Challenge)
    answer = guest.conn.send(protocol.Response(
        seq=1, nonce=first.nonce, health=protocol.Health.OK))
    with caplog.at_level(logging.WARNING):
        second = guest.greet()
        received = guest.host.receive(answer)
    assert second.signals == [sig.AgentGreeted("boot-1")]
    assert received.signals == []
    assert guest.host.violations == {}
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    # A second stale answer is counted.
    received = guest.host.receive(answer)
    assert received.signals == [sig.ProtocolViolation("stale_response")]


def test_garbage_is_counted_warned_once_and_answered_rate_limited(
        caplog: pytest.LogCaptureFixture) -> None:
    guest = Guest()
    guest.greet()
    with caplog.at_level(logging.WARNING):
        received = guest.say(raw=b"\x00\x01garbage\n" * 3)
    assert received.signals == [sig.ProtocolViolation("invalid_json", 3)]
    assert guest.host.violations == {"invalid_json": 3}
    errors = [e for e in guest.heard if isinstance(e, protocol.Error)]
    assert [e.code for e in errors] == [protocol.ErrorCode.PROTOCOL_ERROR]
    assert caplog.text.count("invalid input") == 1
    assert "\\x00\\x01garbage" in caplog.text  # escaped
    guest.clock.advance(TERMS.interval)
    guest.say(raw=b"{}\n")
    assert len([e for e in guest.heard if isinstance(e, protocol.Error)]) \
        == 2
    guest.clock.advance(60.0)
    with caplog.at_level(logging.WARNING):
        guest.say(raw=b"{}\n")
    assert "3 more since the last warning, 5 in all" in caplog.text


def test_rejected_input_is_one_signal_per_interval_with_counts() -> None:
    guest = Guest()
    guest.greet()
    first = guest.say(raw=b"[\n")
    assert first.signals == [sig.ProtocolViolation("invalid_json")]
    # Within the interval: counted and held, however many lines.
    for _ in range(50):
        assert guest.say(raw=b"[\n" * 3 + b"{}\n" * 2).signals == []
    assert guest.host.rejected_due() == guest.clock() + TERMS.interval
    guest.clock.advance(TERMS.interval)
    [signal] = guest.host.flush_rejected()
    by_kind = dict(signal.by_kind)
    assert signal.count == sum(by_kind.values()) == 250
    assert signal.kind == max(by_kind, key=by_kind.__getitem__)
    # Past the protocol's burst, the rest are rate limited.
    assert set(by_kind) == {"invalid_json", "invalid_field", "rate_limited"}
    assert sum(guest.host.violations.values()) == 251
    assert guest.host.flush_rejected() == []
    assert guest.host.rejected_due() is None


def test_overflow_counts_every_dropped_line() -> None:
    guest = Guest()
    guest.greet()
    received = guest.say(raw=b"[\n" * 1000)
    assert sum(guest.host.violations.values()) == 1000
    assert [s.count for s in received.signals
            if isinstance(s, sig.ProtocolViolation)] == [1000]


def test_messages_before_hello_get_hello_required() -> None:
    guest = Guest()
    received = guest.host.receive(
        b'{"v":1,"type":"report","health":"ok"}\n')
    guest.hear(received.replies)
    assert received.signals == [sig.ProtocolViolation("unexpected")]
    error = guest.heard[-1]
    assert isinstance(error, protocol.Error)
    assert error.code is protocol.ErrorCode.HELLO_REQUIRED


def test_floods_get_rate_limited() -> None:
    guest = Guest()
    guest.greet()
    report = b'{"v":1,"type":"report","health":"ok"}\n'
    guest.host.receive(report * 30)
    received = guest.host.receive(report * 30)
    guest.hear(received.replies)
    kinds = {s.kind for s in received.signals
             if isinstance(s, sig.ProtocolViolation)}
    assert "rate_limited" in kinds
    error = guest.heard[-1]
    assert isinstance(error, protocol.Error)
    assert error.code is protocol.ErrorCode.RATE_LIMITED


@pytest.mark.parametrize("name,number,expected", [
    ("instance-0000002a", 7, "instance-0000002a.7"),
    ("my vm/with spaces", 1, "my-vm-with-spaces.1"),
    ("-leading", 2, "s-leading.2"),
    ("x" * 100, 12345, "x" * 58 + ".12345"),
    ("", 1, "s.1"),
])
def test_session_ids_are_protocol_ids(name: str, number: int,
                                      expected: str) -> None:
    assert session_mod.session_id(name, number) == expected
    assert len(expected) <= 64
