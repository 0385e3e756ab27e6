"""The admin socket, served on a small thread of its own.

The monitor loop is never blocked by a client: this thread accepts one
connection at a time, reads one request line (at most
:data:`~.wire.MAX_REQUEST` bytes, within :data:`CLIENT_TIMEOUT`), and
asks the loop for a snapshot through a thread-safe call that returns
within :data:`LOOP_TIMEOUT`. The loop only copies its state (about 10 ms
per thousand instances); the answer is built and sent here.
A slow or silent client delays only the next client.

The socket is bound under a temporary name, given mode 0660 and its
group, then renamed into place, so it is never reachable with wider
permissions than those.
"""

from __future__ import annotations

import concurrent.futures
import grp
import logging
import os
import selectors
import socket
import threading
import time
import typing

from nova_vm_heartbeat.admin import wire
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.runtime.endpoints import Provider
from nova_vm_heartbeat.runtime.options import AdminEndpoint

LOG = logging.getLogger(__name__)

#: Owner and group may connect; nobody else (root always can).
SOCKET_MODE = 0o660
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
        self._listener: typing.Optional[socket.socket] = None
        self._inode: typing.Optional[int] = None
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
        try:
            self._listener = self._bind()
        except OSError as err:
            raise exception.EndpointFailed(
                what="admin socket", where=self.path,
                reason=err.strerror or err) from err
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name="heartbeat-admin")
        self._thread.start()
        LOG.info("Admin socket ready at %(path)s (owner and group %(group)s"
                 " may connect)", {"path": self.path,
                                   "group": self.endpoint.group or "of "
                                   "this process"})

    def stop(self, timeout: float = 0.5) -> None:
        """Stop serving and remove the socket (if it is still ours)."""
        if self._thread is None:
            return
        os.write(self._wake_w, b"\0")
        self._thread.join(timeout)
        self._thread = None
        assert self._listener is not None
        self._listener.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._unlink_if_ours()

    # -- binding ------------------------------------------------------------

    def _bind(self) -> socket.socket:
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, mode=0o755, exist_ok=True)
        self._remove_stale()
        temporary = "%s.%d.tmp" % (self.path, os.getpid())
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            _unlink(temporary)
            sock.bind(temporary)
            os.chmod(temporary, SOCKET_MODE)
            self._set_group(temporary)
            os.rename(temporary, self.path)
            sock.listen(16)
        except OSError:
            sock.close()
            _unlink(temporary)
            raise
        self._inode = os.stat(self.path).st_ino
        return sock

    def _remove_stale(self) -> None:
        """Remove a socket left by a monitor that died; refuse a live one."""
        if not os.path.lexists(self.path):
            return
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(self.path)
        except OSError:
            LOG.info("Removing the stale admin socket %(path)s",
                     {"path": self.path})
            _unlink(self.path)
            return
        finally:
            probe.close()
        raise exception.EndpointFailed(
            what="admin socket", where=self.path,
            reason="another monitor is serving it (two monitors on one "
            "host would judge every instance twice)")

    def _set_group(self, path: str) -> None:
        group = self.endpoint.group
        if not group:
            return
        try:
            os.chown(path, -1, grp.getgrnam(group).gr_gid)
        except KeyError:
            LOG.warning("Group %(group)s does not exist: only the owner of "
                        "the admin socket %(path)s (and root) can use it; "
                        "set [heartbeat_admin] socket_group",
                        {"group": group, "path": self.path})
        except OSError as err:
            LOG.warning("Cannot give the admin socket %(path)s to group "
                        "%(group)s (%(err)s): only its owner (and root) "
                        "can use it", {"group": group, "path": self.path,
                                       "err": err.strerror or err})

    def _unlink_if_ours(self) -> None:
        try:
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except OSError:
            pass

    # -- serving ------------------------------------------------------------

    def _serve(self) -> None:
        assert self._listener is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = [key.fileobj for key, _ in selector.select()]
                if self._wake_r in ready:
                    return
                self._accept()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
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


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
