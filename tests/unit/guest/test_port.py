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

"""The port: a character device or a UNIX socket, never blocking."""

from __future__ import annotations

import os
import pathlib
import socket
import tempfile
import typing

import pytest

from nova_vm_heartbeat.guest import port


@pytest.fixture
def short_dir() -> typing.Iterator[pathlib.Path]:
    with tempfile.TemporaryDirectory(prefix="hb-", dir="/tmp") as path:
        yield pathlib.Path(path)


def test_unix_socket_port(short_dir: pathlib.Path) -> None:
    path = str(short_dir / "port.sock")
    stream = port.Port("unix:" + path)
    with pytest.raises(OSError):
        stream.open()  # nobody listens yet
    assert not stream.is_open
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        stream.open()
        host, _ = listener.accept()
        with host:
            assert stream.read() is None  # nothing yet, and no blocking
            stream.write(b"\xffhello\n")
            assert host.recv(100) == b"\xffhello\n"
            host.sendall(b"welcome\n")
            assert stream.read() == b"welcome\n"
        assert stream.read() == b""  # the host went away
    stream.close()
    assert not stream.is_open


def test_character_device_port() -> None:
    controller, device = os.openpty()
    try:
        stream = port.Port(os.ttyname(device))
        stream.open()
        try:
            os.write(controller, b"ping\n")
            assert stream.read() is not None
        finally:
            stream.close()
    finally:
        os.close(controller)
        os.close(device)


def test_writes_are_queued_and_bounded(short_dir: pathlib.Path) -> None:
    path = str(short_dir / "port.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        stream = port.Port("unix:" + path, max_pending=64 * 1024)
        stream.open()
        host, _ = listener.accept()
        with host:
            with pytest.raises(port.PortStalled):
                for _ in range(10000):  # the host does not read
                    stream.write(b"x" * 1024)
            assert stream.wants_write
            assert not stream.drain(0.1)
        stream.close()
