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

"""The command line, against a canned agent on a real socket."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import typing

import pytest

from nova_vm_heartbeat.guest import cli
from nova_vm_heartbeat.guest import client

JsonDict = typing.Dict[str, typing.Any]


class CannedAgent:
    """Answers each request line with the next canned reply line."""

    def __init__(self, path: str, replies: typing.List[bytes]):
        self.path = path
        self.requests: typing.List[JsonDict] = []
        self._replies = list(replies)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(1)
        self._sock.settimeout(5)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        for reply in self._replies:
            conn, _ = self._sock.accept()
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    data += conn.recv(4096)
                self.requests.append(json.loads(data))
                conn.sendall(reply)

    def join(self) -> None:
        self._thread.join(5)
        self._sock.close()
        os.unlink(self.path)


@pytest.fixture
def socket_path() -> typing.Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="hb-", dir="/tmp") as directory:
        yield os.path.join(directory, "agent.sock")


def _run(socket_path: str, replies: typing.List[JsonDict],
         *argv: str) -> typing.Tuple[int, typing.List[JsonDict]]:
    agent = CannedAgent(socket_path, [json.dumps(r).encode() + b"\n"
                                      for r in replies])
    try:
        status = cli.main(list(argv[:1]) + ["--socket", socket_path]
                          + list(argv[1:]))
    finally:
        agent.join()
    return status, agent.requests


@pytest.mark.parametrize("argv, request_, output", [
    (["notify", "--component", "web", "--status", "failed", "--reason",
      "down", "--progress", "3", "--ttl", "30"],
     {"op": "notify", "component": "web", "status": "failed",
      "reason": "down", "progress": 3, "ttl": 30.0}, "web: failed"),
    (["notify", "--component", "web", "--status", "ok"],
     {"op": "notify", "component": "web", "status": "ok"}, "web: ok"),
    (["register", "--component", "web", "--ttl", "30"],
     {"op": "register", "component": "web", "ttl": 30.0},
     "web: registered"),
    (["unregister", "--component", "web"],
     {"op": "unregister", "component": "web"}, "web: unregistered"),
    (["maintenance", "--duration", "600", "--reason", "upgrade"],
     {"op": "maintenance", "duration": 600, "reason": "upgrade"},
     "maintenance granted for 300 s"),
    (["maintenance", "--end"], {"op": "maintenance", "duration": 0},
     "maintenance ended"),
    (["request-recovery", "--action", "stop"],
     {"op": "request", "action": "stop"}, "accepted the stop request"),
])
def test_client_commands(socket_path: str,
                         capsys: pytest.CaptureFixture[str],
                         argv: typing.List[str], request_: JsonDict,
                         output: str) -> None:
    status, requests = _run(socket_path, [
        {"ok": True, "health": "ok", "granted": 300}], *argv)
    assert status == 0
    assert requests == [request_]
    assert output in capsys.readouterr().out


def test_error_reply_is_one_line_and_exit_1(
        socket_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, _ = _run(socket_path, [{"ok": False, "error": "no such thing"}],
                     "unregister", "--component", "web")
    assert status == 1
    err = capsys.readouterr().err
    assert err == "nova-vm-heartbeat-guest: error: no such thing\n"


def test_agent_not_running(socket_path: str,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--socket", socket_path]) == 1
    err = capsys.readouterr().err
    assert "the agent is not running" in err and socket_path in err
    assert err.count("\n") == 1


def test_garbage_reply(socket_path: str) -> None:
    agent = CannedAgent(socket_path, [b"<html>\n"])
    try:
        with pytest.raises(client.AgentError, match="not JSON"):
            client.AgentClient(socket_path).status()
    finally:
        agent.join()


def test_status_output(socket_path: str,
                       capsys: pytest.CaptureFixture[str]) -> None:
    reply = {"ok": True, "health": "failed",
             "channel": {"state": "established", "port": "/dev/vport",
                         "version": 1, "interval": 1.0,
                         "last_challenge_age": 0.4},
             "components": {"web": {"status": "failed", "progress": 3,
                                    "reason": "no report for 30 s"}},
             "last_notice": {"event": "migrate", "deadline": 30, "age": 2},
             "maintenance_remaining": 120.0}
    status, _ = _run(socket_path, [reply], "status")
    assert status == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "channel:     established (port /dev/vport)"
    assert "maintenance: 120.0 s left" in out
    assert "last notice: migrate in 30 s (2 s ago)" in out
    assert out[-1].split() == ["web", "failed", "progress", "3", "no",
                               "report", "for", "30", "s"]
    status, _ = _run(socket_path, [reply], "status", "--json")
    assert json.loads(capsys.readouterr().out) == reply


@pytest.mark.parametrize("argv", [
    [], ["bogus"], ["notify", "--component", "x"],
    ["notify", "--component", "x", "--status", "maybe"],
    ["maintenance"], ["maintenance", "--duration", "5", "--end"],
    ["request-recovery", "--action", "explode"],
    ["run", "--check-interval", "0"],
])
def test_usage_errors_exit_2(argv: typing.List[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2


def test_run_defaults() -> None:
    args = cli.build_parser().parse_args(["run"])
    assert args.port == "/dev/virtio-ports/org.openstack.heartbeat.0"
    assert args.socket == "/run/nova-vm-heartbeat/agent.sock"
    assert args.checks_dir == "/etc/nova-vm-heartbeat/checks.d"
    assert (args.check_interval, args.check_timeout) == (10.0, 5.0)
