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

"""The host end of a real guest's heartbeat channel, for tests.

QEMU listens on the channel's unix socket; :class:`HostEnd` connects to it
as the monitor does and speaks the host side of the protocol with the real
:class:`~nova_vm_heartbeat.protocol.Connection`: 0xFF on connect, a
``welcome`` for every ``hello`` and a fresh ``challenge`` after it.

The agent says hello when it opens its port, and again in answer to the
host's 0xFF, so a session may be welcomed twice: the answer that counts
is the one to the latest challenge, and a response to an earlier one is a
``stale_response`` protocol error, recorded in :attr:`HostEnd.errors`.
"""

from __future__ import annotations

import pathlib
import secrets
import select
import socket
import time
import typing

from nova_vm_heartbeat import protocol

E = typing.TypeVar("E")


class HostEnd:
    """A connection to one guest's heartbeat channel."""

    def __init__(self, sock: socket.socket, interval: float = 1.0,
                 timeout: float = 1.0, max_maintenance: int = 60):
        self.sock = sock
        self.interval = interval
        self.timeout = timeout
        self.max_maintenance = max_maintenance
        self.conn = protocol.Connection(protocol.HOST, clock=time.monotonic)
        self.received: typing.List[object] = []
        self.errors: typing.List[protocol.RemoteProtocolError] = []
        self._unread: typing.List[object] = []
        self._seq = 0
        self.challenge: typing.Optional[protocol.Challenge] = None
        self.sock.sendall(self.conn.resync())

    @classmethod
    def connect(cls, path: pathlib.Path, timeout: float = 10.0,
                **kwargs: typing.Any) -> "HostEnd":
        """Connect to QEMU's socket, waiting for it to appear."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(path))
                return cls(sock, **kwargs)
            except OSError as err:
                sock.close()
                if time.monotonic() >= deadline:
                    raise AssertionError("cannot connect to %s: %s"
                                         % (path, err)) from err
            time.sleep(0.1)

    def close(self) -> None:
        self.sock.close()

    def send(self, message: protocol.Message) -> None:
        self.sock.sendall(self.conn.send(message))

    def _pump(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left > 0 and select.select([self.sock], [], [], left)[0]:
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("QEMU closed the heartbeat socket")
            self.conn.receive_data(data)
            self._drain()

    def _drain(self) -> None:
        while True:
            try:
                event = self.conn.next_event()
            except protocol.RemoteProtocolError as err:
                self.errors.append(err)
                continue
            if event is protocol.NEED_DATA:
                return
            self.received.append(event)
            self._unread.append(event)
            if isinstance(event, protocol.Hello):
                self._welcome()

    def _welcome(self) -> None:
        version = self.conn.offered_version
        assert version is not None
        self.send(protocol.Welcome(
            version=version, interval=self.interval, timeout=self.timeout,
            max_maintenance=self.max_maintenance))
        self.send_challenge()

    def send_challenge(self) -> protocol.Challenge:
        self._seq += 1
        self.challenge = protocol.Challenge(self._seq, secrets.token_hex(16))
        self.send(self.challenge)
        return self.challenge

    def expect(self, kind: typing.Type[E], timeout: float,
               where: typing.Callable[[E], bool] = lambda event: True,
               ) -> E:
        """The next unread ``kind`` event satisfying ``where``.

        Unread events before it are skipped.
        """
        deadline = time.monotonic() + timeout
        while True:
            while self._unread:
                event = self._unread.pop(0)
                if isinstance(event, kind) and where(event):
                    return event
            if time.monotonic() >= deadline:
                raise AssertionError("no %s within %g s; last received: %r"
                                     % (kind.__name__, timeout,
                                        self.received[-5:]))
            self._pump(deadline)

    def _answers_latest(self, response: protocol.Response) -> bool:
        challenge = self.challenge
        return challenge is not None and (response.seq, response.nonce) == (
            challenge.seq, challenge.nonce)

    def establish(self, timeout: float,
                  ) -> typing.Tuple[protocol.Hello, protocol.Response]:
        """Wait for the agent's hello and its answer to a challenge.

        Returns the latest hello and the response to the latest challenge.
        """
        deadline = time.monotonic() + timeout
        self.expect(protocol.Hello, timeout)
        response = self.expect(protocol.Response,
                               deadline - time.monotonic(),
                               self._answers_latest)
        hellos = [e for e in self.received if isinstance(e, protocol.Hello)]
        return hellos[-1], response
