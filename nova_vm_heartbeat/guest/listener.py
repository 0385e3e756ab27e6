"""The application API socket: framing, client limits and timeouts.

:class:`Listener` owns the listening UNIX socket and its clients, all
registered with the daemon's selector. It splits what clients send into
request lines of at most :data:`~.api.MAX_REQUEST_BYTES` and passes each to
a handler together with a function that sends the reply. A client's next
request is read only once the previous one is answered, so replies come
in order even when the host takes a while to answer. It bounds the number
of clients, what each may queue, and how long each may idle.
"""

from __future__ import annotations

import grp
import logging
import os
import selectors
import socket
import stat
import typing

from nova_vm_heartbeat.guest import api
from nova_vm_heartbeat.guest import throttle

LOG = logging.getLogger(__name__)

DEFAULT_SOCKET = "/run/nova-vm-heartbeat/agent.sock"
MAX_CLIENTS = 32
IDLE_TIMEOUT = 30.0
#: Most reply bytes queued for a client that does not read them.
MAX_REPLY_QUEUE = 65536
SOCKET_MODE = 0o660
DIR_MODE = 0o755

ReplyFn = typing.Callable[[api.JsonDict], None]
Handler = typing.Callable[[bytes, ReplyFn], None]
Callback = typing.Callable[[int], None]


class _Client:
    """One connected application."""

    def __init__(self, sock: socket.socket, now: float):
        self.sock = sock
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.last_active = now
        self.events = 0            # what the selector watches for it
        self.busy = False          # a request waits for its reply
        self.processing = False    # inside Listener._process
        self.discarding = False    # skipping the rest of a too long line
        self.closed = False


#: :meth:`Listener._next_line` found a request longer than allowed.
_TOO_LONG = object()


def _is_listening(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(0.5)
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _prepare_path(path: str) -> None:
    """Create the socket's directory; remove a stale socket file."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=DIR_MODE)
        os.chmod(directory, DIR_MODE)  # whatever the umask
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError("%s exists and is not a socket; not replacing it"
                      % path)
    if _is_listening(path):
        raise OSError("another agent is listening on %s" % path)
    LOG.info("Replacing the stale socket %s", path)
    os.unlink(path)


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
        self._throttle = throttle.LogThrottle(LOG, clock)
        self._sock: typing.Optional[socket.socket] = None
        self._clients: typing.Dict[int, _Client] = {}

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def open(self) -> None:
        """Create the socket file, with mode 0660, and listen on it.

        :raises OSError: it cannot be created.
        """
        _prepare_path(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            sock.bind(self.path)
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old_umask)
        try:
            self._set_owner()
        except OSError:
            sock.close()
            os.unlink(self.path)
            raise
        sock.listen(16)
        sock.setblocking(False)
        self._sock = sock
        self._selector.register(sock, selectors.EVENT_READ, self._accept)

    def _set_owner(self) -> None:
        if self.group:
            try:
                gid = grp.getgrnam(self.group).gr_gid
            except KeyError:
                raise OSError("no group named %s for %s"
                              % (self.group, self.path)) from None
            os.chown(self.path, -1, gid)
        os.chmod(self.path, SOCKET_MODE)

    def close(self) -> None:
        """Close every client and the socket; remove the socket file."""
        for client in list(self._clients.values()):
            self._close(client)
        if self._sock is None:
            return
        self._selector.unregister(self._sock)
        self._sock.close()
        self._sock = None
        try:
            os.unlink(self.path)
        except OSError:
            pass

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
        assert self._sock is not None
        try:
            sock, _ = self._sock.accept()
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
        client.inbox += data
        self._process(client)

    def _process(self, client: _Client) -> None:
        """Handle complete lines while the client is not waiting."""
        client.processing = True
        try:
            while not client.busy and not client.closed:
                line = self._next_line(client)
                if line is None:
                    break
                self._dispatch(client, line)
        finally:
            client.processing = False
        self._update_interest(client)

    def _dispatch(self, client: _Client, line: object) -> None:
        if line is _TOO_LONG:
            self._send(client, api.encode_reply(api.error_reply(
                "request longer than %d bytes" % api.MAX_REQUEST_BYTES)))
        elif isinstance(line, bytes) and line.strip():
            client.busy = True
            self._handler(line, self._replier(client))

    def _next_line(self, client: _Client) -> typing.Optional[object]:
        """The next request line, :data:`_TOO_LONG`, or None for none."""
        while True:
            end = client.inbox.find(b"\n")
            if not client.discarding:
                break
            del client.inbox[:len(client.inbox) if end < 0 else end + 1]
            client.discarding = end < 0
            if client.discarding:
                return None
        if end < 0 and len(client.inbox) > api.MAX_REQUEST_BYTES:
            client.inbox.clear()
            client.discarding = True
            return _TOO_LONG
        if end < 0:
            return None
        line = bytes(client.inbox[:end])
        del client.inbox[:end + 1]
        return _TOO_LONG if len(line) > api.MAX_REQUEST_BYTES else line

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
