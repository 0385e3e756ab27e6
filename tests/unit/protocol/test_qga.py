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

"""QGA commands and replies: guest-sync challenges through libvirt."""

from __future__ import annotations

import json

import pytest

from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import qga


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


def test_libvirt_sync_command_is_plain_guest_sync() -> None:
    # libvirt cannot decode the 0xFF of guest-sync-delimited's reply.
    assert json.loads(qga.libvirt_sync_command(42)) == {
        "execute": "guest-sync", "arguments": {"id": 42}}
    with pytest.raises(protocol.LocalProtocolError):
        qga.libvirt_sync_command(qga.MAX_SYNC_ID + 1)
