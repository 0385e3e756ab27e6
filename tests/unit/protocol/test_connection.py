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

"""Whole conversations through an in-memory host/guest pair."""

from __future__ import annotations

import pytest

from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import events as ev
from nova_vm_heartbeat.protocol.state import SessionState
from tests.unit.protocol.helpers import drain
from tests.unit.protocol.helpers import HostGuestPair
from tests.unit.protocol.helpers import state_of

WEB_FAILED = ev.Component("web", ev.Health.FAILED, "HTTP 503 on /health", 7)


@pytest.fixture
def pair() -> HostGuestPair:
    return HostGuestPair()


def test_handshake_establishes_both_ends(pair: HostGuestPair) -> None:
    pair.handshake()
    assert pair.host.state is SessionState.ESTABLISHED
    assert pair.guest.state is SessionState.ESTABLISHED
    assert pair.host.version == pair.guest.version == 1


def test_hello_arrives_as_sent(pair: HostGuestPair) -> None:
    hello = pair.hello()
    assert pair.send(pair.guest, hello) == [hello]
    assert pair.host.state is SessionState.AWAIT_WELCOME
    assert pair.host.offered_version == 1


def test_challenges_and_responses(pair: HostGuestPair) -> None:
    pair.handshake()
    for _ in range(5):
        challenge = pair.challenge()
        [response] = pair.respond(challenge)
        assert isinstance(response, ev.Response)
        assert (response.seq, response.nonce) == (challenge.seq,
                                                  challenge.nonce)


def test_response_carries_component_health(pair: HostGuestPair) -> None:
    pair.handshake()
    [response] = pair.respond(pair.challenge(), ev.Health.FAILED,
                              (WEB_FAILED,))
    assert isinstance(response, ev.Response)
    assert response.health is ev.Health.FAILED
    assert response.components == (WEB_FAILED,)


def test_late_response_within_window_is_accepted(pair: HostGuestPair) -> None:
    pair.handshake()
    first = pair.challenge()
    second = pair.challenge()
    assert len(pair.respond(second)) == 1
    assert len(pair.respond(first)) == 1


def test_response_outside_window_is_stale(pair: HostGuestPair) -> None:
    pair.handshake()
    first = pair.challenge()
    for _ in range(protocol.connection.CHALLENGE_WINDOW):
        pair.challenge()
    # The guest still remembers it, the host no longer does.
    pair.guest._challenges[first.seq] = first.nonce
    with pytest.raises(protocol.RemoteProtocolError) as raised:
        pair.respond(first)
    assert raised.value.kind == "stale_response"


def test_replayed_response_is_stale(pair: HostGuestPair) -> None:
    pair.handshake()
    challenge = pair.challenge()
    data = pair.guest.send(ev.Response(challenge.seq, challenge.nonce,
                                       ev.Health.OK))
    assert len(pair.transfer(pair.guest, data)) == 1
    with pytest.raises(protocol.RemoteProtocolError) as raised:
        pair.transfer(pair.guest, data)
    assert raised.value.kind == "stale_response"


def test_forged_nonce_is_stale(pair: HostGuestPair) -> None:
    pair.handshake()
    challenge = pair.challenge()
    line = ('{"v":1,"type":"response","seq":%d,"nonce":"%s","health":"ok"}\n'
            % (challenge.seq, "0" * 32)).encode()
    with pytest.raises(protocol.RemoteProtocolError) as raised:
        pair.transfer(pair.guest, line)
    assert raised.value.kind == "stale_response"


def test_guest_cannot_answer_an_unknown_challenge(
        pair: HostGuestPair) -> None:
    pair.handshake()
    with pytest.raises(protocol.LocalProtocolError):
        pair.guest.send(ev.Response(99, "ab" * 16, ev.Health.OK))


def test_host_challenge_seq_must_increase(pair: HostGuestPair) -> None:
    pair.handshake()
    challenge = pair.challenge()
    with pytest.raises(protocol.LocalProtocolError):
        pair.host.send(ev.Challenge(challenge.seq, "cd" * 16))


def test_unsolicited_report(pair: HostGuestPair) -> None:
    pair.handshake()
    report = ev.Report(ev.Health.FAILED, (WEB_FAILED,), 50.0)
    assert pair.send(pair.guest, report) == [report]


def test_maintenance_and_ack(pair: HostGuestPair) -> None:
    pair.handshake()
    request = ev.Maintenance(7200, "kernel upgrade")
    assert pair.send(pair.guest, request) == [request]
    ack = ev.Ack(ev.AckSubject.MAINTENANCE, True, granted=600,
                 reason="clamped to 600 s")
    assert pair.send(pair.host, ack) == [ack]


def test_recovery_request_and_notice(pair: HostGuestPair) -> None:
    pair.handshake()
    request = ev.Request(ev.RecoveryAction.REBOOT, "kernel oops in dmesg")
    assert pair.send(pair.guest, request) == [request]
    notice = ev.Notice(ev.NoticeEvent.REBOOT, deadline=5)
    assert pair.send(pair.host, notice) == [notice]


def test_bye_closes_then_hello_reopens(pair: HostGuestPair) -> None:
    pair.handshake()
    bye = ev.Bye(ev.ByeReason.REBOOT)
    assert pair.send(pair.guest, bye) == [bye]
    assert pair.host.state is SessionState.CLOSED
    with pytest.raises(protocol.LocalProtocolError):
        pair.host.send(ev.Challenge(100, "ab" * 16))
    pair.send(pair.guest, pair.hello(boot_id="new-boot"))
    assert state_of(pair.host) is SessionState.AWAIT_WELCOME


def test_version_mismatch_gets_error(pair: HostGuestPair) -> None:
    line = (b'{"v":7,"type":"hello","min_v":5,"agent":"future",'
            b'"agent_version":"9.0"}\n')
    [hello] = pair.transfer(pair.guest, line)
    assert isinstance(hello, ev.Hello)
    assert pair.host.offered_version is None
    with pytest.raises(protocol.LocalProtocolError):
        pair.host.send(ev.Welcome(1, 1.0, 3.0, 600))
    error = ev.Error(ev.ErrorCode.UNSUPPORTED_VERSION, "speaks 1 to 1",
                     versions=(1, 1))
    assert pair.send(pair.host, error) == [error]


def test_newer_guest_negotiates_down() -> None:
    guest = protocol.Connection(protocol.GUEST, clock=lambda: 0.0,
                                max_version=3)
    host = protocol.Connection(protocol.HOST, clock=lambda: 0.0)
    host.receive_data(guest.send(ev.Hello(3, 1, "agent", "2.0")))
    assert drain(host)
    assert host.offered_version == 1
    guest.receive_data(host.send(ev.Welcome(1, 1.0, 3.0, 600)))
    assert drain(guest) == [ev.Welcome(1, 1.0, 3.0, 600)]
    assert guest.version == 1


def test_welcome_outside_guest_range_is_rejected() -> None:
    guest = protocol.Connection(protocol.GUEST, clock=lambda: 0.0,
                                min_version=2, max_version=3)
    guest.send(ev.Hello(3, 2, "agent", "2.0"))
    guest.receive_data(b'{"v":1,"type":"welcome","interval":1,"timeout":3,'
                       b'"max_maintenance":600}\n')
    with pytest.raises(protocol.RemoteProtocolError) as raised:
        drain(guest)
    assert raised.value.kind == "version"


def test_welcome_outside_hello_offer_is_rejected() -> None:
    guest = protocol.Connection(protocol.GUEST, clock=lambda: 0.0,
                                max_version=3)
    guest.send(ev.Hello(1, 1, "agent", "2.0"))
    guest.receive_data(b'{"v":3,"type":"welcome","interval":1,"timeout":3,'
                       b'"max_maintenance":600}\n')
    with pytest.raises(protocol.RemoteProtocolError) as raised:
        drain(guest)
    assert raised.value.kind == "version"


def test_message_with_wrong_version_is_rejected(pair: HostGuestPair) -> None:
    pair.handshake()
    with pytest.raises(protocol.RemoteProtocolError) as raised:
        pair.transfer(pair.guest, b'{"v":2,"type":"report","health":"ok"}\n')
    assert raised.value.kind == "version"


def test_messages_before_hello_are_unexpected(pair: HostGuestPair) -> None:
    with pytest.raises(protocol.RemoteProtocolError) as raised:
        pair.transfer(pair.guest, b'{"v":1,"type":"report","health":"ok"}\n')
    assert raised.value.kind == "unexpected"
    error = ev.Error(ev.ErrorCode.HELLO_REQUIRED)
    assert pair.send(pair.host, error) == [error]


def test_guest_cannot_send_host_messages(pair: HostGuestPair) -> None:
    with pytest.raises(protocol.LocalProtocolError):
        pair.guest.send(ev.Challenge(1, "ab" * 16))
    with pytest.raises(protocol.RemoteProtocolError) as raised:
        pair.transfer(pair.guest, b'{"v":1,"type":"challenge","seq":1,'
                                  b'"nonce":"abababababababab"}\n')
    assert raised.value.kind == "unexpected"


def test_host_resync_mid_session(pair: HostGuestPair) -> None:
    pair.handshake()
    pending = pair.challenge()
    assert pair.transfer(pair.host, pair.host.resync()) == [ev.Resync()]
    assert pair.guest.state is SessionState.AWAIT_HELLO
    with pytest.raises(protocol.LocalProtocolError):
        pair.guest.send(ev.Response(pending.seq, pending.nonce,
                                    ev.Health.OK))
    pair.send(pair.guest, pair.hello())
    assert pair.host.state is SessionState.AWAIT_WELCOME


def test_resync_discards_partial_line(pair: HostGuestPair) -> None:
    pair.handshake()
    partial = b'{"v":1,"type":"report","hea'
    hello = pair.guest.send(pair.hello())
    assert pair.transfer(pair.guest, partial + b"\xff" + hello) == [
        ev.Resync(), pair.hello()]


def test_bad_line_does_not_break_the_session(pair: HostGuestPair) -> None:
    pair.handshake()
    pair.host.receive_data(b"garbage\n")
    with pytest.raises(protocol.RemoteProtocolError):
        pair.host.next_event()
    assert len(pair.respond(pair.challenge())) == 1


def test_eof_closes(pair: HostGuestPair) -> None:
    pair.handshake()
    assert pair.transfer(pair.guest, b"") == [ev.ConnectionClosed()]
    assert pair.host.state is SessionState.CLOSED


def test_eof_mid_line_is_truncated(pair: HostGuestPair) -> None:
    pair.host.receive_data(b'{"v":1')
    pair.host.receive_data(b"")
    with pytest.raises(protocol.RemoteProtocolError) as raised:
        pair.host.next_event()
    assert raised.value.kind == "truncated"
    assert pair.host.next_event() == ev.ConnectionClosed()


def _outcomes(conn: protocol.Connection) -> list[str]:
    seen = []
    while True:
        try:
            event = conn.next_event()
        except protocol.RemoteProtocolError as err:
            seen.append(err.kind)
            continue
        if event is protocol.NEED_DATA:
            return seen
        seen.append(type(event).__name__)


def test_flood_is_rate_limited_then_recovers() -> None:
    limits = protocol.Limits(max_messages_per_second=5, max_burst=10)
    pair = HostGuestPair(limits)
    pair.handshake()  # the hello spent one token of the burst
    report = pair.guest.send(ev.Report(ev.Health.OK))
    pair.host.receive_data(report * 10)
    assert _outcomes(pair.host) == ["Report"] * 9 + ["rate_limited"]
    pair.host.receive_data(report * 10)
    assert _outcomes(pair.host) == ["rate_limited"] * 10
    pair.clock.advance(1.0)
    pair.host.receive_data(report * 6)
    assert _outcomes(pair.host) == ["Report"] * 5 + ["rate_limited"]


def test_unread_lines_beyond_the_bound_are_dropped() -> None:
    limits = protocol.Limits(max_burst=10)
    pair = HostGuestPair(limits)
    pair.handshake()
    pair.clock.advance(10.0)
    report = pair.guest.send(ev.Report(ev.Health.OK))
    pair.host.receive_data(report * 25)
    assert _outcomes(pair.host) == ["Report"] * 10 + ["buffer_full"]


def test_send_validates_messages(pair: HostGuestPair) -> None:
    pair.handshake()
    with pytest.raises(protocol.LocalProtocolError):
        pair.guest.send(ev.Report(ev.Health.OK, (ev.Component(
            "bad name!", ev.Health.OK),)))
    with pytest.raises(protocol.LocalProtocolError):
        pair.guest.send(ev.Maintenance(-1))
    with pytest.raises(protocol.LocalProtocolError):
        pair.guest.send(ev.Report(ev.Health.OK, tuple(
            ev.Component("c%d" % i, ev.Health.OK) for i in range(33))))


def test_invalid_role_is_refused() -> None:
    with pytest.raises(ValueError):
        protocol.Connection("observer", clock=lambda: 0.0)
