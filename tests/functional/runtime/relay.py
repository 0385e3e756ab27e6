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

"""QEMU's part of a heartbeat channel, played by the test.

On a compute host, QEMU listens on the channel's UNIX socket (the host
end, where the runtime connects) and moves bytes to and from the
virtio-serial port in the guest (where the agent reads and writes).
:class:`ChardevRelay` does the same with two listening sockets: the
runtime connects to ``host_path``, the agent (``--port unix:...``) to
``guest_path``. Like QEMU's chardev it serves one client per side at a
time, drops what one side sends while the other is not connected, and
stops reading a side whose bytes the other does not take (back-pressure,
as a full virtio queue does).
"""

from __future__ import annotations

import os
import select
import socket
import threading
import typing

#: Bytes held for one direction before the sender is no longer read.
MAX_PENDING = 64 * 1024
HOST, GUEST = "host", "guest"


class ChardevRelay:
    """Two listening sockets and the bytes between their clients."""

    def __init__(self, host_path: str, guest_path: str):
        self.paths = {HOST: host_path, GUEST: guest_path}
        self.connects = {HOST: 0, GUEST: 0}
        self._listeners: typing.Dict[str, socket.socket] = {}
        self._clients: typing.Dict[str, typing.Optional[socket.socket]] = {}
        self._pending = {HOST: bytearray(), GUEST: bytearray()}
        self._stop = threading.Event()
        self._thread: typing.Optional[threading.Thread] = None

    def start(self) -> "ChardevRelay":
        """Listen on both sockets (QEMU starts)."""
        self._stop.clear()
        self._clients = {HOST: None, GUEST: None}
        for side, path in self.paths.items():
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(1)
            self._listeners[side] = listener
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="relay-%s" % self.paths[HOST])
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close everything and remove the sockets (QEMU exits)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def connected(self, side: str) -> bool:
        return self._clients.get(side) is not None

    # -- the relay thread ---------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._once()
        finally:
            self._close_all()

    def _once(self) -> None:
        readers: typing.List[socket.socket] = list(self._listeners.values())
        writers: typing.List[socket.socket] = []
        for side, client in self._clients.items():
            if client is None:
                continue
            if len(self._pending[_other(side)]) < MAX_PENDING:
                readers.append(client)
            if self._pending[side]:
                writers.append(client)
        readable, writable, _ = select.select(readers, writers, [], 0.05)
        for sock in readable:
            self._readable(sock)
        for sock in writable:
            self._flush(self._side_of(sock))

    def _side_of(self, sock: socket.socket) -> str:
        for side, client in self._clients.items():
            if client is sock:
                return side
        return ""

    def _readable(self, sock: socket.socket) -> None:
        for side, listener in self._listeners.items():
            if sock is listener:
                self._accept(side)
                return
        side = self._side_of(sock)
        if not side:
            return
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(side)
        elif self._clients[_other(side)] is not None:
            self._pending[_other(side)] += data

    def _accept(self, side: str) -> None:
        client, _ = self._listeners[side].accept()
        client.setblocking(False)
        self._drop(side)
        self._clients[side] = client
        self.connects[side] += 1

    def _drop(self, side: str) -> None:
        client = self._clients.get(side)
        if client is not None:
            client.close()
        self._clients[side] = None
        self._pending[side].clear()

    def _flush(self, side: str) -> None:
        client = self._clients.get(side)
        if client is None or not side:
            return
        try:
            sent = client.send(self._pending[side])
        except BlockingIOError:
            return
        except OSError:
            self._drop(side)
            return
        del self._pending[side][:sent]

    def _close_all(self) -> None:
        for side in (HOST, GUEST):
            self._drop(side)
        for side, listener in self._listeners.items():
            listener.close()
            try:
                os.unlink(self.paths[side])
            except FileNotFoundError:
                pass
        self._listeners.clear()


def _other(side: str) -> str:
    return GUEST if side == HOST else HOST
