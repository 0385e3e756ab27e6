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

"""The application API socket: framing, client limits and timeouts.

:class:`Listener` owns the listening UNIX socket and its clients, all
registered with the daemon's selector. It splits what clients send into
request lines of at most :data:`~.api.MAX_REQUEST_BYTES` with the host's
bounded framing (:class:`~nova_vm_heartbeat.protocol.framing.LineBuffer`)
and passes each to a handler together with a function that sends the
reply. A client's next request is read only once the previous one is
answered, so replies come in order even when the host takes a while to
answer. It bounds the number
of clients, what each may queue, and how long each may idle.
"""

from __future__ import annotations

import logging
import selectors
import socket
import typing

from nova_vm_heartbeat.common import log_throttle
from nova_vm_heartbeat.common import unix_socket
from nova_vm_heartbeat.guest import api
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import framing

LOG = logging.getLogger(__name__)

DEFAULT_SOCKET = "/run/nova-vm-heartbeat/agent.sock"
MAX_CLIENTS = 32
IDLE_TIMEOUT = 30.0
#: Most reply bytes queued for a client that does not read them.
MAX_REPLY_QUEUE = 65536

ReplyFn = typing.Callable[[api.JsonDict], None]
Handler = typing.Callable[[bytes, ReplyFn], None]
Callback = typing.Callable[[int], None]


class _Client:
    """One connected application."""

    def __init__(self, sock: socket.socket, now: float):
        self.sock = sock
        self.inbox = framing.LineBuffer(_FRAMING)
        self.outbox = bytearray()
        self.last_active = now
        self.events = 0            # what the selector watches for it
        self.busy = False          # a request waits for its reply
        self.processing = False    # inside Listener._process
        self.closed = False


#: Request framing: lines of at most :data:`~.api.MAX_REQUEST_BYTES`. A
#: client's socket is read (at most that many bytes plus one at a time)
#: only once its queued lines are answered, so the queue never fills.
_FRAMING = protocol.Limits(
    max_line_bytes=api.MAX_REQUEST_BYTES,
    max_buffer_bytes=4 * (api.MAX_REQUEST_BYTES + 1),
    max_burst=api.MAX_REQUEST_BYTES + 1)


class Listener:
    """The listening socket and its clients."""

    def __init__(self, path: str, selector: selectors.BaseSelector,
                 handler: Handler, clock: typing.Callable[[], float],
                 group: typing.Optional[str] = None,
                 max_clients: int = MAX_CLIENTS,
                 idle_timeout: float = IDLE_TIMEOUT):
        self.path = path
        self.group = group
        self.max_clients = max_clients
        self.idle_timeout = idle_timeout
        self._selector = selector
        self._handler = handler
        self._clock = clock
        self._throttle = log_throttle.ThrottledLog(LOG, clock)
        self._listening: typing.Optional[unix_socket.Listening] = None
        self._clients: typing.Dict[int, _Client] = {}

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def open(self) -> None:
        """Create the socket file, with mode 0660, and listen on it.

        :raises OSError: it cannot be created, or another agent serves it.
        """
        try:
            listening = unix_socket.listen(self.path, self.group)
        except unix_socket.SocketInUse as err:
            raise OSError("another agent is listening on %s"
                          % self.path) from err
        listening.sock.setblocking(False)
        self._listening = listening
        self._selector.register(listening.sock, selectors.EVENT_READ,
                                self._accept)

    def close(self) -> None:
        """Close every client and the socket; remove the socket file."""
        for client in list(self._clients.values()):
            self._close(client)
        if self._listening is None:
            return
        self._selector.unregister(self._listening.sock)
        self._listening.sock.close()
        unix_socket.unlink_if_ours(self._listening)
        self._listening = None

    def tick(self) -> None:
        """Close clients that idled too long."""
        limit = self._clock() - self.idle_timeout
        for client in list(self._clients.values()):
            if not client.busy and client.last_active <= limit:
                LOG.debug("Closing an idle API client")
                self._close(client)

    def next_deadline(self) -> typing.Optional[float]:
        """When the next idle client is due to be closed."""
        times = [c.last_active + self.idle_timeout
                 for c in self._clients.values() if not c.busy]
        return min(times) if times else None

    # -- clients -------------------------------------------------------------

    def _accept(self, mask: int) -> None:
        assert self._listening is not None
        try:
            sock, _ = self._listening.sock.accept()
        except OSError:
            return
        sock.setblocking(False)
        if len(self._clients) >= self.max_clients:
            self._throttle.log(logging.WARNING, "clients", "Refusing an API "
                               "client: %d clients already", self.max_clients)
            self._refuse(sock)
            return
        client = _Client(sock, self._clock())
        self._clients[sock.fileno()] = client
        self._update_interest(client)

    def _refuse(self, sock: socket.socket) -> None:
        reply = api.error_reply("too many clients (at most %d); try again "
                                "later" % self.max_clients)
        try:
            sock.send(api.encode_reply(reply))
        except OSError:
            pass
        sock.close()

    def _callback(self, client: _Client) -> Callback:
        def on_event(mask: int) -> None:
            if mask & selectors.EVENT_READ and not client.closed:
                self._read(client)
            if mask & selectors.EVENT_WRITE and not client.closed:
                self._flush(client)
        return on_event

    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(api.MAX_REQUEST_BYTES + 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(client)
            return
        client.last_active = self._clock()
        client.inbox.feed(data)
        self._process(client)

    def _process(self, client: _Client) -> None:
        """Handle complete lines while the client is not waiting."""
        client.processing = True
        try:
            while not client.busy and not client.closed:
                line = client.inbox.pop()
                if line is None:
                    break
                self._dispatch(client, line)
        finally:
            client.processing = False
        self._update_interest(client)

    def _dispatch(self, client: _Client, line: framing.Item) -> None:
        if isinstance(line, framing.Overflow):
            message = line.detail
            if line.kind == "line_too_long":
                message = "request longer than %d bytes" % (
                    api.MAX_REQUEST_BYTES)
            self._send(client, api.encode_reply(api.error_reply(message)))
        elif isinstance(line, bytes):
            client.busy = True
            self._handler(line, self._replier(client))

    def _replier(self, client: _Client) -> ReplyFn:
        def reply(message: api.JsonDict) -> None:
            if client.closed or not client.busy:
                return
            client.busy = False
            client.last_active = self._clock()
            self._send(client, api.encode_reply(message))
            if not client.processing:
                self._process(client)
        return reply

    def _send(self, client: _Client, data: bytes) -> None:
        if len(client.outbox) + len(data) > MAX_REPLY_QUEUE:
            LOG.debug("Closing an API client that does not read its replies")
            self._close(client)
            return
        client.outbox += data
        self._flush(client)

    def _flush(self, client: _Client) -> None:
        try:
            sent = client.sock.send(client.outbox)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._close(client)
            return
        del client.outbox[:sent]
        self._update_interest(client)

    def _update_interest(self, client: _Client) -> None:
        """Watch for requests unless one is pending; for room if needed."""
        if client.closed:
            return
        events = 0 if client.busy else selectors.EVENT_READ
        if client.outbox:
            events |= selectors.EVENT_WRITE
        if events == client.events:
            return
        if not client.events:
            self._selector.register(client.sock, events,
                                    self._callback(client))
        elif not events:
            self._selector.unregister(client.sock)
        else:
            self._selector.modify(client.sock, events,
                                  self._callback(client))
        client.events = events

    def _close(self, client: _Client) -> None:
        if client.closed:
            return
        client.closed = True
        self._clients.pop(client.sock.fileno(), None)
        if client.events:
            self._selector.unregister(client.sock)
        client.sock.close()
