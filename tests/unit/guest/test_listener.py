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

"""The API socket: permissions, framing, limits and idle clients."""

from __future__ import annotations

import json
import os
import pathlib
import selectors
import socket
import stat
import tempfile
import time
import typing

import pytest

from nova_vm_heartbeat.guest import api
from nova_vm_heartbeat.guest import listener as listener_mod

Reply = typing.Callable[[api.JsonDict], None]


class Server:
    """A listener on a real socket, served by a selector loop we step."""

    def __init__(self, path: str, idle: float = 30.0, max_clients: int = 32):
        self.selector = selectors.DefaultSelector()
        self.lines: typing.List[bytes] = []
        self.held: typing.List[Reply] = []
        self.hold = False
        self.listener = listener_mod.Listener(
            path, self.selector, self.handle, time.monotonic,
            max_clients=max_clients, idle_timeout=idle)
        self.listener.open()

    def handle(self, line: bytes, reply: Reply) -> None:
        self.lines.append(line)
        if self.hold:
            self.held.append(reply)
        else:
            reply(api.ok_reply(echo=line.decode("utf-8", "replace")))

    def step(self, seconds: float = 0.05) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for key, mask in self.selector.select(0.01):
                key.data(mask)
            self.listener.tick()

    def close(self) -> None:
        self.listener.close()
        self.selector.close()


@pytest.fixture
def server() -> typing.Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="hb-", dir="/tmp") as path:
        running = Server(os.path.join(path, "run", "agent.sock"))
        try:
            yield running
        finally:
            running.close()


def _client(server: Server) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(server.listener.path)
    return sock


def _replies(server: Server, sock: socket.socket,
             count: int) -> typing.List[typing.Any]:
    data = b""
    deadline = time.monotonic() + 5
    while data.count(b"\n") < count and time.monotonic() < deadline:
        server.step(0.02)
        sock.setblocking(False)
        try:
            data += sock.recv(65536)
        except BlockingIOError:
            pass
    return [json.loads(line) for line in data.splitlines()]


def test_socket_file_and_directory_modes(server: Server) -> None:
    path = server.listener.path
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o755
    server.close()
    assert not os.path.exists(path)


def test_stale_socket_is_replaced() -> None:
    with tempfile.TemporaryDirectory(prefix="hb-", dir="/tmp") as directory:
        path = os.path.join(directory, "agent.sock")
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()  # the file stays; nobody listens
        server = Server(path)
        try:
            with pytest.raises(OSError, match="another agent"):
                Server(path)  # a live one is not replaced
        finally:
            server.close()
        pathlib.Path(path).write_text("not a socket")
        with pytest.raises(OSError, match="not a socket"):
            Server(path)


def test_requests_are_answered_in_order(server: Server) -> None:
    with _client(server) as sock:
        sock.sendall(b"one\n\ntwo\r\nthr")
        sock.sendall(b"ee\n")
        replies = _replies(server, sock, 3)
    assert [r["echo"] for r in replies] == ["one", "two\r", "three"]


def test_a_pending_request_holds_back_the_next(server: Server) -> None:
    server.hold = True
    with _client(server) as sock:
        sock.sendall(b"first\nsecond\n")
        server.step(0.1)
        assert server.lines == [b"first"]
        server.held.pop()({"ok": True, "n": 1})
        server.step(0.1)
        assert server.lines == [b"first", b"second"]
        server.held.pop()({"ok": True, "n": 2})
        assert [r["n"] for r in _replies(server, sock, 2)] == [1, 2]


def test_too_long_requests_get_an_error(server: Server) -> None:
    with _client(server) as sock:
        sock.sendall(b"x" * 10000 + b"\nok\n")
        replies = _replies(server, sock, 2)
    assert replies[0] == {"ok": False,
                          "error": "request longer than 4096 bytes"}
    assert replies[1]["echo"] == "ok"


def test_many_small_pipelined_requests(server: Server) -> None:
    with _client(server) as sock:
        sock.sendall(b"x\n" * 3000)
        replies = _replies(server, sock, 3000)
    assert len(replies) == 3000


def test_client_count_is_bounded() -> None:
    with tempfile.TemporaryDirectory(prefix="hb-", dir="/tmp") as directory:
        server = Server(os.path.join(directory, "a.sock"), max_clients=2)
        try:
            clients = [_client(server) for _ in range(3)]
            server.step(0.1)
            assert server.listener.client_count == 2
            refused = _replies(server, clients[2], 1)
            assert "too many clients" in refused[0]["error"]
            for sock in clients:
                sock.close()
        finally:
            server.close()


def test_idle_clients_are_closed() -> None:
    with tempfile.TemporaryDirectory(prefix="hb-", dir="/tmp") as directory:
        server = Server(os.path.join(directory, "a.sock"), idle=0.2)
        try:
            with _client(server) as sock:
                server.step(0.1)
                assert server.listener.client_count == 1
                assert server.listener.next_deadline() is not None
                server.step(0.3)
                assert server.listener.client_count == 0
                assert sock.recv(10) == b""
        finally:
            server.close()


def test_unknown_group_is_an_error() -> None:
    with tempfile.TemporaryDirectory(prefix="hb-", dir="/tmp") as directory:
        path = os.path.join(directory, "a.sock")
        selector = selectors.DefaultSelector()
        listener = listener_mod.Listener(
            path, selector, lambda line, reply: None, time.monotonic,
            group="no-such-group-here")
        with pytest.raises(OSError, match="no group named"):
            listener.open()
        assert not os.path.exists(path)
        selector.close()


def test_socket_directory_is_0755_whatever_the_umask() -> None:
    with tempfile.TemporaryDirectory(prefix="hb-", dir="/tmp") as directory:
        old = os.umask(0o077)
        try:
            server = Server(os.path.join(directory, "d", "a.sock"))
        finally:
            os.umask(old)
        try:
            assert stat.S_IMODE(os.stat(os.path.join(
                directory, "d")).st_mode) == 0o755
        finally:
            server.close()
