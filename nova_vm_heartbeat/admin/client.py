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

"""Asking the monitor over its admin socket.

Every way the question can fail becomes an
:class:`~nova_vm_heartbeat.exception.AdminUnavailable` whose message says
what to do about it: the monitor is not running, the socket is someone
else's, the monitor answered an error.
"""

from __future__ import annotations

import errno
import json
import socket
import typing

from nova_vm_heartbeat.admin import wire
from nova_vm_heartbeat import exception

#: Seconds to wait for the whole answer.
TIMEOUT = 15.0
#: Largest answer read (about 300 bytes per instance).
MAX_ANSWER = 64 * 1024 * 1024

_NOT_RUNNING = (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTDIR)


def ask(path: str, op: str, timeout: float = TIMEOUT) -> wire.Json:
    """Send ``op`` to the monitor at ``path``; its successful answer.

    :raises AdminUnavailable: no answer, or an error answer.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            sock.sendall(wire.request(op))
            data = _read_all(sock)
        except OSError as err:
            raise _unavailable(path, err) from err
    return _parse(path, data)


def _read_all(sock: socket.socket) -> bytes:
    chunks: typing.List[bytes] = []
    size = 0
    while size <= MAX_ANSWER:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _parse(path: str, data: bytes) -> wire.Json:
    try:
        answer = json.loads(data)
    except ValueError as err:
        raise exception.AdminUnavailable(
            path=path, reason="the answer is not JSON (is this the "
            "heartbeat monitor's admin socket?)") from err
    if not isinstance(answer, dict):
        raise exception.AdminUnavailable(
            path=path, reason="the answer is not a JSON object")
    if not answer.get("ok"):
        raise exception.AdminUnavailable(
            path=path, reason="the monitor answered: %s"
            % answer.get("error", "an error without a message"))
    return answer


def _unavailable(path: str, err: OSError) -> exception.AdminUnavailable:
    if err.errno in _NOT_RUNNING:
        reason = ("the monitor is not running, or serves another socket "
                  "(see [heartbeat_admin] socket_path, or pass --socket)")
    elif err.errno in (errno.EACCES, errno.EPERM):
        reason = ("permission denied: run as root or as a member of the "
                  "socket's group ([heartbeat_admin] socket_group)")
    elif isinstance(err, socket.timeout):
        reason = ("no answer within the timeout: the monitor is "
                  "overloaded or stuck (see its log)")
    else:
        reason = err.strerror or str(err)
    return exception.AdminUnavailable(path=path, reason=reason)
