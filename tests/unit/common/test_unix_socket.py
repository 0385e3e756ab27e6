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

"""The listening UNIX socket shared by the guest agent and the admin socket."""

from __future__ import annotations

import grp
import os
import pathlib
import socket
import stat
import typing

import pytest

from nova_vm_heartbeat.common import unix_socket


@pytest.fixture
def path() -> typing.Iterator[str]:
    # Short: AF_UNIX paths are limited to about 100 bytes.
    directory = pathlib.Path("/tmp") / ("nvh-us-%d" % os.getpid())
    yield str(directory / "sub" / "s.sock")
    for leftover in sorted(directory.rglob("*"), reverse=True):
        leftover.rmdir() if leftover.is_dir() else leftover.unlink()
    if directory.exists():
        directory.rmdir()


def test_mode_directory_and_removal(path: str) -> None:
    listening = unix_socket.listen(path)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o755
        assert listening.group is None and listening.group_error is None
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
        # No temporary name is left behind.
        assert os.listdir(os.path.dirname(path)) == ["s.sock"]
    finally:
        listening.sock.close()
        unix_socket.unlink_if_ours(listening)
    assert not os.path.lexists(path)


def test_a_group_is_given(path: str) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    listening = unix_socket.listen(path, group)
    with listening.sock:
        assert os.stat(path).st_gid == os.getgid()
        assert listening.group == group


def test_an_unknown_group(path: str) -> None:
    with pytest.raises(OSError, match="no group named no-such-grp"):
        unix_socket.listen(path, "no-such-grp")
    assert not os.path.lexists(path)
    assert os.listdir(os.path.dirname(path)) == []
    listening = unix_socket.listen(path, "no-such-grp", require_group=False)
    with listening.sock:
        assert listening.group is None
        assert "no group named no-such-grp" in str(listening.group_error)


def test_stale_live_and_foreign_files(path: str) -> None:
    os.makedirs(os.path.dirname(path))
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # bound, never listening: what a killed process leaves
    listening = unix_socket.listen(path)
    with listening.sock:
        with pytest.raises(unix_socket.SocketInUse):
            unix_socket.listen(path)
    unix_socket.unlink_if_ours(listening)
    pathlib.Path(path).write_text("not a socket")
    with pytest.raises(OSError, match="not a socket"):
        unix_socket.listen(path)
    assert pathlib.Path(path).read_text() == "not a socket"


def test_a_replaced_file_is_not_removed(path: str) -> None:
    listening = unix_socket.listen(path)
    listening.sock.close()
    other = path + ".other"
    pathlib.Path(other).write_text("someone else's")  # a new inode
    os.rename(other, path)
    unix_socket.unlink_if_ours(listening)
    assert os.path.exists(path)
