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

"""What applications see of a real agent process, host played by the test.

They use the real CLI and the real API socket.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import stat
import typing

from nova_vm_heartbeat import protocol
from tests.functional.guest import harness

FAILED = protocol.Health.FAILED


def _component(message: object, name: str) -> protocol.Component:
    assert isinstance(message, (protocol.Response, protocol.Report))
    return {c.name: c for c in message.components}[name]


def test_silent_component_fails_after_its_ttl(
        agent: harness.AgentProcess, host: harness.FakeHost) -> None:
    host.handshake()
    result = agent.cli("register", "--component", "web", "--ttl", "1")
    assert result.returncode == 0, result.stderr
    result = agent.cli("notify", "--component", "web", "--status", "ok",
                       "--reason", "serving", "--progress", "7")
    assert result.returncode == 0, result.stderr
    response = host.challenge()
    web = _component(response, "web")
    assert (web.status, web.reason, web.progress) == (
        protocol.Health.OK, "serving", 7)
    report = host.expect(protocol.Report, timeout=5.0,
                         where=lambda r: r.health is FAILED)
    assert _component(report, "web").reason == "no report for 1 s"
    response = host.challenge()
    assert response.health is FAILED
    assert _component(response, "web").progress == 7


def test_failed_notification_is_reported_at_once(
        agent: harness.AgentProcess, host: harness.FakeHost) -> None:
    host.handshake()
    result = agent.cli("notify", "--component", "db", "--status", "failed",
                       "--reason", "replica lag 90 s", "--ttl", "60")
    assert result.returncode == 0, result.stderr
    report = host.expect(protocol.Report, where=lambda r: r.health is FAILED)
    assert _component(report, "db").reason == "replica lag 90 s"
    assert agent.cli("unregister", "--component", "db").returncode == 0
    host.expect(protocol.Report, where=lambda r: r.components == ())


def _request(sock: socket.socket,
             line: bytes) -> typing.Dict[str, typing.Any]:
    sock.sendall(line)
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = sock.recv(65536)
        assert chunk, "the agent closed the API connection"
        reply += chunk
    parsed: typing.Dict[str, typing.Any] = json.loads(reply)
    return parsed


def test_bad_requests_get_errors_and_the_agent_carries_on(
        agent: harness.AgentProcess, host: harness.FakeHost) -> None:
    host.handshake()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(harness.WAIT)
        sock.connect(agent.socket)
        for line in (b"not json\n", b"[1, 2]\n", b'{"op": "bogus"}\n',
                     b'{"op": "register", "component": "x", "ttl": "9"}\n',
                     b"\xff\xfe\n", b'{"op": "x"}' * 1000 + b"\n"):
            reply = _request(sock, line)
            assert reply["ok"] is False and reply["error"], line[:40]
        status = _request(sock, b'{"op": "status"}\n')
    assert status["ok"] is True
    assert status["channel"]["state"] == "established"
    assert host.challenge().health is protocol.Health.OK


def test_api_socket_permissions(agent: harness.AgentProcess) -> None:
    assert stat.S_IMODE(os.stat(agent.socket).st_mode) == 0o660


def test_status_and_errors_through_the_cli(
        agent: harness.AgentProcess, host: harness.FakeHost) -> None:
    result = agent.cli("maintenance", "--duration", "60")
    assert result.returncode == 1
    assert "not established" in result.stderr
    host.handshake()
    host.challenge()
    result = agent.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["channel"]["version"] == protocol.MAX_VERSION
    assert status["channel"]["last_challenge_age"] is not None
    result = agent.cli("status")
    assert "established" in result.stdout
    result = agent.cli("unregister", "--component", "nope")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "not registered" in result.stderr


def test_maintenance_and_recovery_requests(
        agent: harness.AgentProcess, host: harness.FakeHost) -> None:
    host.handshake()
    client = agent.cli_background("maintenance", "--duration", "900",
                                  "--reason", "kernel upgrade")
    maintenance = host.expect(protocol.Maintenance)
    assert maintenance == protocol.Maintenance(900, "kernel upgrade")
    host.send(protocol.Ack(subject=protocol.AckSubject.MAINTENANCE,
                           accepted=True, granted=600))
    out, err = client.communicate(timeout=harness.WAIT)
    assert client.returncode == 0, err
    assert "granted for 600 s" in out

    client = agent.cli_background("request-recovery", "--action", "reboot")
    recovery = host.expect(protocol.Request)
    assert recovery.action is protocol.RecoveryAction.REBOOT
    host.send(protocol.Ack(subject=protocol.AckSubject.REQUEST,
                           accepted=False, reason="policy forbids it"))
    out, err = client.communicate(timeout=harness.WAIT)
    assert client.returncode == 1
    assert "policy forbids it" in err


def test_cli_says_when_the_agent_is_not_running(
        workdir: pathlib.Path) -> None:
    process = harness.AgentProcess(workdir)
    result = process.cli("status")
    assert result.returncode == 1
    assert "not running" in result.stderr
    assert process.socket in result.stderr
