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

"""The admin socket, served on a small thread of its own.

The monitor loop is never blocked by a client: this thread accepts one
connection at a time, reads one request line (at most
:data:`~.wire.MAX_REQUEST` bytes, within :data:`CLIENT_TIMEOUT`), and
asks the loop for a snapshot through a thread-safe call that returns
within :data:`LOOP_TIMEOUT`. The loop only copies its state (about 10 ms
per thousand instances); the answer is built and sent here.
A slow or silent client delays only the next client.

The socket is bound by :func:`nova_vm_heartbeat.common.unix_socket.listen`
(shared with the guest agent): under a temporary name, given mode 0660 and
its group, then renamed into place, so it is never reachable with wider
permissions than those.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import selectors
import socket
import threading
import time
import typing

from nova_vm_heartbeat.admin import wire
from nova_vm_heartbeat.common import unix_socket
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.runtime.endpoints import Provider
from nova_vm_heartbeat.runtime.options import AdminEndpoint

LOG = logging.getLogger(__name__)

#: Owner and group may connect; nobody else (root always can).
SOCKET_MODE = unix_socket.SOCKET_MODE
#: Seconds a client has to send its request and take the answer.
CLIENT_TIMEOUT = 5.0
#: Seconds the monitor loop has to produce a snapshot.
LOOP_TIMEOUT = 5.0
#: Seconds to wait after a failed accept.
ACCEPT_BACKOFF = 0.1


class AdminServer:
    """Serves the admin protocol on a UNIX socket until stopped.

    :param provider: answers for the monitor loop, from this server's
        thread, within a timeout (the ``MonitorService``).
    :param host: the compute host's name, for the answer.
    """

    def __init__(self, endpoint: AdminEndpoint, provider: Provider,
                 host: str):
        self.endpoint = endpoint
        self.path = endpoint.path
        self._provider = provider
        self._host = host
        self._listening: typing.Optional[unix_socket.Listening] = None
        self._thread: typing.Optional[threading.Thread] = None
        self._wake_r, self._wake_w = -1, -1
        #: Requests answered, for tests and logs.
        self.served = 0

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        """Bind the socket and start serving.

        :raises EndpointFailed: the socket cannot be bound, or another
            monitor already serves it.
        """
        self._listening = self._bind()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name="heartbeat-admin")
        self._thread.start()
        LOG.info("Admin socket ready at %(path)s; %(who)s may connect",
                 {"path": self.path, "who": _who(self._listening)})

    def stop(self, timeout: float = 0.5) -> None:
        """Stop serving and remove the socket (if it is still ours)."""
        if self._thread is None:
            return
        os.write(self._wake_w, b"\0")
        self._thread.join(timeout)
        self._thread = None
        assert self._listening is not None
        self._listening.sock.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        unix_socket.unlink_if_ours(self._listening)

    # -- binding ------------------------------------------------------------

    def _bind(self) -> unix_socket.Listening:
        try:
            listening = unix_socket.listen(self.path, self.endpoint.group,
                                           SOCKET_MODE, require_group=False)
        except unix_socket.SocketInUse as err:
            raise exception.EndpointFailed(
                what="admin socket", where=self.path,
                reason="another monitor is serving it (two monitors on one "
                "host would judge every instance twice)") from err
        except OSError as err:
            raise exception.EndpointFailed(
                what="admin socket", where=self.path,
                reason=err.strerror or err) from err
        if listening.group_error:
            LOG.warning("The admin socket %(path)s is not given to group "
                        "%(group)s (%(why)s); set [heartbeat_admin] "
                        "socket_group", {"path": self.path,
                                         "group": self.endpoint.group,
                                         "why": listening.group_error})
        return listening

    # -- serving ------------------------------------------------------------

    def _serve(self) -> None:
        assert self._listening is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listening.sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = [key.fileobj for key, _ in selector.select()]
                if self._wake_r in ready:
                    return
                self._accept()

    def _accept(self) -> None:
        assert self._listening is not None
        try:
            conn, _ = self._listening.sock.accept()
        except OSError as err:
            # Out of descriptors, most likely: do not spin on it.
            LOG.debug("Admin socket: accept failed: %(err)s", {"err": err})
            time.sleep(ACCEPT_BACKOFF)
            return
        with conn:
            try:
                answer = self._answer(_read_line(conn))
                self.served += 1
                conn.sendall(answer)
            except OSError as err:
                LOG.debug("Admin socket: client went away: %(err)s",
                          {"err": err})

    def _answer(self, line: typing.Optional[bytes]) -> bytes:
        if line is None:
            return wire.failure("the request must be one line of at most "
                                "%d bytes" % wire.MAX_REQUEST)
        try:
            op = wire.parse_request(line)
        except wire.BadRequest as err:
            return wire.failure(str(err))
        if op == "ping":
            return wire.success(host=self._host)
        try:
            if op == "telemetry":
                return wire.success(host=self._host, **wire.telemetry(
                    self._provider.telemetry(LOOP_TIMEOUT, False)))
            statuses = self._provider.statuses(LOOP_TIMEOUT)
        except concurrent.futures.TimeoutError:
            return wire.failure("the monitor loop did not answer within "
                                "%g s: it is overloaded or stuck (see its "
                                "log)" % LOOP_TIMEOUT)
        return wire.success(host=self._host,
                            instances=[wire.instance(s) for s in statuses])


def _read_line(conn: socket.socket) -> typing.Optional[bytes]:
    """One request line; None if too long or incomplete.

    :raises socket.timeout: the whole line took longer than
        :data:`CLIENT_TIMEOUT` (a client that trickles bytes included).
    """
    deadline = time.monotonic() + CLIENT_TIMEOUT
    data = b""
    while b"\n" not in data and len(data) <= wire.MAX_REQUEST:
        conn.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = conn.recv(wire.MAX_REQUEST + 1 - len(data))
        if not chunk:
            break
        data += chunk
    line, newline, _ = data.partition(b"\n")
    return line if newline and len(line) <= wire.MAX_REQUEST else None


def _who(listening: unix_socket.Listening) -> str:
    """Who may connect to the socket, in words, as it really is."""
    if listening.group:
        return "its owner, group %s and root" % listening.group
    return "only its owner and root"
