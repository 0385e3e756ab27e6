"""QGA framing: guest-sync-delimited challenges, stale replies skipped."""

from __future__ import annotations

import json

import pytest

from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import qga


def test_sync_command_text() -> None:
    assert json.loads(qga.sync_command(42)) == {
        "execute": "guest-sync-delimited", "arguments": {"id": 42}}
    with pytest.raises(protocol.LocalProtocolError):
        qga.sync_command(-1)


def test_command_text() -> None:
    assert json.loads(qga.command("guest-ping")) == {"execute": "guest-ping"}
    assert json.loads(qga.command("guest-exec", {"path": "/bin/true"})) == {
        "execute": "guest-exec", "arguments": {"path": "/bin/true"}}


@pytest.mark.parametrize("text,reply", [
    ('{"return": 42}', qga.Returned(42)),
    ('\xff{"return": 42}\n', qga.Returned(42)),
    (b'\xff{"return": {}}', qga.Returned({})),
    ('{"error": {"class": "GenericError", "desc": "frozen"}}',
     qga.Failed("GenericError", "frozen")),
])
def test_parse_reply(text: str, reply: qga.Reply) -> None:
    assert qga.parse_reply(text) == reply


@pytest.mark.parametrize("text", ["", "[]", '{"neither": 1}', "\xff\xff{",
                                  '{"return": ' + "[" * 50 + "]" * 50 + "}"])
def test_parse_reply_rejects(text: str) -> None:
    with pytest.raises(protocol.RemoteProtocolError):
        qga.parse_reply(text)


def test_session_request_bytes() -> None:
    session = qga.QgaSession()
    data = session.sync(7)
    assert data.startswith(b"\xff") and data.endswith(b"\n")
    assert json.loads(data[1:]) == json.loads(qga.sync_command(7))
    with pytest.raises(protocol.LocalProtocolError):
        session.request("guest-ping")


def test_session_skips_everything_before_the_marker() -> None:
    session = qga.QgaSession()
    session.sync(7)
    session.receive_data(b'{"return": 7}\n{"return": {}}\n')
    assert session.next_reply() is None
    assert session.stale_replies == 2
    session.receive_data(b'\xff{"return": 7}\n')
    assert session.next_reply() == qga.Synced(7)


def test_session_skips_stale_ids() -> None:
    session = qga.QgaSession()
    session.sync(1)
    session.sync(2)  # the first timed out
    session.receive_data(b'\xff{"return": 1}\n\xff{"return": 2}\n')
    assert session.next_reply() == qga.Synced(2)
    assert session.stale_replies == 1


def test_session_boolean_is_not_an_id() -> None:
    session = qga.QgaSession()
    session.sync(1)
    session.receive_data(b'\xff{"return": true}\n')
    assert session.next_reply() is None


def test_session_commands_after_sync() -> None:
    session = qga.QgaSession()
    session.sync(3)
    session.receive_data(b'\xff{"return": 3}\n')
    assert session.next_reply() == qga.Synced(3)
    assert session.request("guest-ping") == b'{"execute":"guest-ping"}\n'
    session.receive_data(b'{"return": {}}\n{"error": {"class": "X"}}\n')
    assert session.next_reply() == qga.Returned({})
    assert session.next_reply() == qga.Failed("X", "")


def test_session_reports_overflow() -> None:
    session = qga.QgaSession(protocol.Limits(max_line_bytes=32,
                                             max_buffer_bytes=64))
    session.sync(1)
    session.receive_data(b"\xff" + b"x" * 100 + b"\n")
    with pytest.raises(protocol.RemoteProtocolError) as raised:
        session.next_reply()
    assert raised.value.kind == "line_too_long"


def test_libvirt_sync_command_is_plain_guest_sync() -> None:
    # libvirt cannot decode the 0xFF of guest-sync-delimited's reply.
    assert json.loads(qga.libvirt_sync_command(42)) == {
        "execute": "guest-sync", "arguments": {"id": 42}}
    with pytest.raises(protocol.LocalProtocolError):
        qga.libvirt_sync_command(qga.MAX_SYNC_ID + 1)
