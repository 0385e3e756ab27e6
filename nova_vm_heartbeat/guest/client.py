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

"""A client of the agent's application API, for programs in the guest.

Each call opens the agent's socket, sends one request line and returns the
reply as a dict. A refused request raises :class:`RequestFailed`; an agent
that cannot be reached raises :class:`AgentUnavailable`. Both carry a
one-line message meant for people::

    from nova_vm_heartbeat.guest import client

    agent = client.AgentClient()
    agent.register("web", ttl=30)
    agent.notify("web", "ok", progress=requests_served)
"""

from __future__ import annotations

import json
import socket
import typing

from nova_vm_heartbeat.guest import listener

JsonDict = typing.Dict[str, typing.Any]

#: Seconds to wait for a reply; the agent itself waits up to 5 s for the
#: host's answer to maintenance and recovery requests.
DEFAULT_TIMEOUT = 10.0
#: Longest reply accepted.
MAX_REPLY_BYTES = 1024 * 1024


class AgentError(Exception):
    """The request did not succeed; ``str()`` says why, in one line."""


class AgentUnavailable(AgentError):
    """The agent could not be reached."""


class RequestFailed(AgentError):
    """The agent refused the request; :attr:`reply` is its whole reply."""

    def __init__(self, reply: JsonDict):
        self.reply = reply
        super().__init__(str(reply.get("error") or "the request failed"))


def _connect(path: str, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except (FileNotFoundError, ConnectionRefusedError) as err:
        sock.close()
        raise AgentUnavailable("the agent is not running (no agent listens "
                               "on %s)" % path) from err
    except PermissionError as err:
        sock.close()
        raise AgentUnavailable("permission denied on %s: run as root or as "
                               "a member of the socket's group" % path
                               ) from err
    except OSError as err:
        sock.close()
        raise AgentUnavailable("cannot reach the agent at %s: %s"
                               % (path, err.strerror or err)) from err
    return sock


def _read_line(sock: socket.socket, path: str) -> bytes:
    data = bytearray()
    while b"\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AgentUnavailable("the agent at %s closed the connection "
                                   "without answering" % path)
        data += chunk
        if len(data) > MAX_REPLY_BYTES:
            raise AgentError("the agent's reply is too long")
    return bytes(data[:data.index(b"\n")])


def call(request: JsonDict, socket_path: str = listener.DEFAULT_SOCKET,
         timeout: float = DEFAULT_TIMEOUT) -> JsonDict:
    """Send ``request``; the reply, which says ``"ok": true``.

    :raises AgentUnavailable: the agent cannot be reached or did not answer.
    :raises RequestFailed: the agent answered that the request failed.
    """
    line = json.dumps(request, separators=(",", ":")).encode("utf-8")
    with _connect(socket_path, timeout) as sock:
        try:
            sock.sendall(line + b"\n")
            raw = _read_line(sock, socket_path)
        except socket.timeout as err:
            raise AgentUnavailable("the agent at %s did not answer within "
                                   "%g s" % (socket_path, timeout)) from err
        except OSError as err:
            raise AgentUnavailable("lost the connection to the agent at %s: "
                                   "%s" % (socket_path, err)) from err
    try:
        reply = json.loads(raw.decode("utf-8"))
    except ValueError as err:
        raise AgentError("the agent's reply is not JSON") from err
    if not isinstance(reply, dict):
        raise AgentError("the agent's reply is not a JSON object")
    if reply.get("ok") is not True:
        raise RequestFailed(reply)
    return reply


def _drop_none(**values: typing.Any) -> JsonDict:
    return {key: value for key, value in values.items() if value is not None}


class AgentClient:
    """The operations of the application API, one method each."""

    def __init__(self, socket_path: str = listener.DEFAULT_SOCKET,
                 timeout: float = DEFAULT_TIMEOUT):
        self.socket_path = socket_path
        self.timeout = timeout

    def call(self, op: str, **values: typing.Any) -> JsonDict:
        """Send operation ``op`` with ``values`` (None values left out)."""
        return call(_drop_none(op=op, **values), self.socket_path,
                    self.timeout)

    def register(self, component: str, ttl: float) -> JsonDict:
        return self.call("register", component=component, ttl=ttl)

    def notify(self, component: str, status: str,
               reason: typing.Optional[str] = None,
               progress: typing.Optional[int] = None,
               ttl: typing.Optional[float] = None) -> JsonDict:
        return self.call("notify", component=component, status=status,
                         reason=reason, progress=progress, ttl=ttl)

    def unregister(self, component: str) -> JsonDict:
        return self.call("unregister", component=component)

    def maintenance(self, duration: int,
                    reason: typing.Optional[str] = None) -> JsonDict:
        return self.call("maintenance", duration=duration, reason=reason)

    def request_recovery(self, action: str,
                         reason: typing.Optional[str] = None) -> JsonDict:
        return self.call("request", action=action, reason=reason)

    def status(self) -> JsonDict:
        return self.call("status")
