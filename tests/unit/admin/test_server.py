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

"""The admin socket: binding, permissions, the protocol, the client."""

from __future__ import annotations

import logging
import os
import pathlib
import socket
import stat
import typing

import pytest

from nova_vm_heartbeat.admin import client
from nova_vm_heartbeat.admin.server import AdminServer
from nova_vm_heartbeat.admin import wire
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.runtime.options import AdminEndpoint
from tests.unit.admin import fakes


@pytest.fixture
def path(tmp_path: pathlib.Path) -> str:
    return str(tmp_path / "run" / "admin.sock")


@pytest.fixture
def provider() -> fakes.Provider:
    return fakes.Provider()


@pytest.fixture
def server(path: str, provider: fakes.Provider
           ) -> typing.Iterator[AdminServer]:
    served = AdminServer(AdminEndpoint(path), provider, "compute-1")
    served.start()
    try:
        yield served
    finally:
        served.stop()


def raw(path: str, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(data)
        return sock.recv(1 << 20)


def test_status_lists_every_instance(server: AdminServer, path: str) -> None:
    answer = client.ask(path, "status")
    assert answer["host"] == "compute-1"
    by_name = {i["domain"]: i for i in answer["instances"]}
    healthy = by_name["instance-00000001"]
    assert healthy["state"] == "healthy" and healthy["name"] == "web-1"
    assert healthy["last_good_age"] == 0.4  # the freshest channel
    assert healthy["rtt"] == 0.0012
    channels = [c["channel"] for c in healthy["channels"]]
    assert channels == ["heartbeat", "qga"]
    assert healthy["socket"] == {"state": "connected", "established": True,
                                 "connects": 1, "abuse": {}}
    failed = by_name["instance-00000002"]
    assert failed["fault_class"] == "guest_hung"
    assert failed["episode"] == 3
    assert failed["socket"]["abuse"] == {"rejected": 5012, "cpu_budget": 3}
    assert by_name["instance-00000003"]["socket"] is None
    assert by_name["instance-00000003"]["suspended"] == {
        "operation:snapshot": 3540.0}
    assert server.served == 1


def test_ping_and_telemetry(server: AdminServer, path: str) -> None:
    assert client.ask(path, "ping")["host"] == "compute-1"
    answer = client.ask(path, "telemetry")
    assert answer["states"] == {"healthy": 1, "failed": 1, "suspended": 1}
    assert answer["missed"] == 7
    assert answer["verdicts"] == {"instance.heartbeat_lost/guest_hung": 1}
    assert answer["protocol_errors"] == {"invalid_json": 2}
    assert answer["outbox_depth"] == 4 and answer["stalls"] == 1
    assert answer["loop_lag"]["count"] == 1


def test_the_socket_is_for_owner_and_group_only(server: AdminServer,
                                                path: str) -> None:
    mode = os.stat(path).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o660


def test_a_group_is_given_the_socket(path: str,
                                     provider: fakes.Provider) -> None:
    import grp
    group = grp.getgrgid(os.getgid()).gr_name
    served = AdminServer(AdminEndpoint(path, group), provider, "c")
    served.start()
    try:
        assert os.stat(path).st_gid == os.getgid()
    finally:
        served.stop()


def test_an_unknown_group_leaves_the_socket_to_its_owner(
        path: str, provider: fakes.Provider,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    served = AdminServer(AdminEndpoint(path, "no-such-group-xyz"), provider,
                         "c")
    served.start()
    try:
        assert client.ask(path, "ping")["ok"]
    finally:
        served.stop()
    assert "no group named no-such-group-xyz" in caplog.text
    # One true statement of who may connect, not a contradiction.
    assert "only its owner and root may connect" in caplog.text
    assert "group no-such-group-xyz and root" not in caplog.text


def test_stop_removes_the_socket(path: str, provider: fakes.Provider
                                 ) -> None:
    served = AdminServer(AdminEndpoint(path), provider, "c")
    served.start()
    served.stop()
    assert not os.path.lexists(path)
    served.stop()  # twice is harmless


def test_a_stale_socket_is_replaced(path: str,
                                    provider: fakes.Provider) -> None:
    os.makedirs(os.path.dirname(path))
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()  # bound, never listening: what a killed monitor leaves
    served = AdminServer(AdminEndpoint(path), provider, "c")
    served.start()
    try:
        assert client.ask(path, "ping")["ok"]
    finally:
        served.stop()


def test_a_live_socket_is_not_taken_over(server: AdminServer, path: str,
                                         provider: fakes.Provider) -> None:
    second = AdminServer(AdminEndpoint(path), provider, "c")
    with pytest.raises(exception.EndpointFailed, match="another monitor"):
        second.start()
    assert client.ask(path, "ping")["ok"]  # the first still serves


def test_bad_requests_get_an_error(server: AdminServer, path: str) -> None:
    assert b'"ok":false' in raw(path, b"not json\n")
    assert b"unknown op" in raw(path, b'{"op":"reboot"}\n')
    assert b"not a JSON object" in raw(path, b'[1]\n')
    too_long = b'{"op":"status","x":"' + b"a" * wire.MAX_REQUEST + b'"}\n'
    assert b"at most" in raw(path, too_long)
    assert client.ask(path, "ping")["ok"]  # still serving


def test_a_stuck_loop_is_reported(server: AdminServer, path: str,
                                  provider: fakes.Provider) -> None:
    provider.stuck = True
    with pytest.raises(exception.AdminUnavailable,
                       match="overloaded or stuck"):
        client.ask(path, "status")


def test_no_monitor_says_so(tmp_path: pathlib.Path) -> None:
    with pytest.raises(exception.AdminUnavailable,
                       match="the monitor is not running"):
        client.ask(str(tmp_path / "nothing.sock"), "status")


def test_permission_denied_says_what_to_do() -> None:
    err = client._unavailable("/run/x.sock", PermissionError(
        13, "Permission denied"))
    assert "run as root or as a member" in str(err)


def test_an_answer_that_is_not_ours(tmp_path: pathlib.Path) -> None:
    with pytest.raises(exception.AdminUnavailable, match="not JSON"):
        client._parse("/x", b"HTTP/1.0 400\r\n")
    with pytest.raises(exception.AdminUnavailable, match="answered: boom"):
        client._parse("/x", wire.failure("boom"))


def test_a_client_that_trickles_is_cut_off(
        server: AdminServer, path: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from nova_vm_heartbeat.admin import server as server_mod
    monkeypatch.setattr(server_mod, "CLIENT_TIMEOUT", 0.3)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(b'{"op"')  # and nothing more
        assert sock.recv(100) == b""  # closed without an answer
    assert client.ask(path, "ping")["ok"]
