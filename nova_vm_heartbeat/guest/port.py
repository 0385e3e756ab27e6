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

"""The agent's end of the channel to the host, and how to reopen it.

In a guest the channel is the virtio-serial port
``/dev/virtio-ports/org.openstack.heartbeat.0``, a character device opened
non-blocking. While nobody listens on the host side, reading it returns
end-of-file and polling it reports a hang-up, so the agent closes it and
opens it again after a growing delay (:data:`REOPEN_FIRST` doubling to
:data:`REOPEN_MAX`). ``unix:/path`` names a UNIX
stream socket to connect to instead: tests play the host on one.

:class:`Port` never blocks, except in :meth:`Port.drain`, which waits a
bounded time for the last bytes (``bye``) to leave.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import time
import typing

#: The port QEMU exposes in the guest for the heartbeat channel.
DEFAULT_PORT = "/dev/virtio-ports/org.openstack.heartbeat.0"
UNIX_PREFIX = "unix:"
#: Most bytes queued for a port that does not take them.
MAX_PENDING = 256 * 1024
READ_SIZE = 65536
#: Seconds before the first attempt to reopen a closed port, and the most.
REOPEN_FIRST = 0.2
REOPEN_MAX = 1.0

_WOULD_BLOCK = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)


class PortStalled(OSError):
    """The host has not read what the agent sent for too long."""


class Port:
    """A non-blocking byte stream to the host, with a bounded send queue."""

    def __init__(self, spec: str = DEFAULT_PORT,
                 max_pending: int = MAX_PENDING):
        self.spec = spec
        self.max_pending = max_pending
        self._fd: typing.Optional[int] = None
        self._sock: typing.Optional[socket.socket] = None
        self._pending = bytearray()

    def __repr__(self) -> str:
        return "Port(%r)" % self.spec

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    @property
    def wants_write(self) -> bool:
        """Whether bytes wait for the port to become writable."""
        return bool(self._pending)

    def fileno(self) -> int:
        if self._fd is None:
            raise ValueError("%r is not open" % self)
        return self._fd

    def open(self) -> None:
        """Open the device or connect the socket.

        :raises OSError: it cannot be opened now.
        """
        self.close()
        if self.spec.startswith(UNIX_PREFIX):
            self._sock = self._connect(self.spec[len(UNIX_PREFIX):])
            self._fd = self._sock.fileno()
            return
        flags = os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        self._fd = os.open(self.spec, flags)

    @staticmethod
    def _connect(path: str) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(1.0)
            sock.connect(path)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        """Close the port and drop whatever was not sent."""
        if self._sock is not None:
            self._sock.close()
        elif self._fd is not None:
            os.close(self._fd)
        self._fd, self._sock = None, None
        self._pending = bytearray()

    def read(self) -> typing.Optional[bytes]:
        """Bytes from the host; ``b""`` at end of stream, None for none yet.

        An error reading counts as the end of the stream.
        """
        try:
            return os.read(self.fileno(), READ_SIZE)
        except OSError as err:
            if err.errno in _WOULD_BLOCK:
                return None
            return b""

    def write(self, data: bytes) -> None:
        """Queue ``data`` and send as much as the port takes now.

        :raises OSError: the port failed, or too much is queued.
        """
        if len(self._pending) + len(data) > self.max_pending:
            raise PortStalled(errno.ENOBUFS, "the host is not reading: "
                              "more than %d bytes queued" % self.max_pending)
        self._pending += data
        self.flush()

    def flush(self) -> None:
        """Send as much of the queue as the port takes without blocking.

        :raises OSError: the port failed.
        """
        while self._pending:
            try:
                sent = os.write(self.fileno(), self._pending)
            except OSError as err:
                if err.errno in _WOULD_BLOCK:
                    return
                raise
            del self._pending[:sent]

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the queue to go; True if it went."""
        deadline = time.monotonic() + timeout
        while self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                select.select([], [self.fileno()], [], left)
                self.flush()
            except (OSError, ValueError):
                return False
        return True
