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

"""An in-memory host/guest pair: whole conversations with no I/O."""

from __future__ import annotations

import itertools
import typing

from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import events


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def drain(conn: protocol.Connection) -> typing.List[events.Event]:
    """Every event ``conn`` has ready (raises on the first bad input)."""
    received: typing.List[events.Event] = []
    while True:
        event = conn.next_event()
        if event is protocol.NEED_DATA:
            return received
        received.append(typing.cast(events.Event, event))


class HostGuestPair:
    """A host and a guest connection wired back to back.

    :meth:`send` sends a message from one end and returns what the other
    end received, so a test reads as the conversation it checks.
    """

    def __init__(self, limits: protocol.Limits = protocol.DEFAULT_LIMITS):
        self.clock = FakeClock()
        self.host = protocol.Connection(protocol.HOST, clock=self.clock,
                                        limits=limits)
        self.guest = protocol.Connection(protocol.GUEST, clock=self.clock,
                                         limits=limits)
        self._seq = itertools.count(1)

    def peer(self, conn: protocol.Connection) -> protocol.Connection:
        return self.guest if conn is self.host else self.host

    def transfer(self, sender: protocol.Connection,
                 data: bytes) -> typing.List[events.Event]:
        receiver = self.peer(sender)
        receiver.receive_data(data)
        return drain(receiver)

    def send(self, sender: protocol.Connection,
             message: events.Message) -> typing.List[events.Event]:
        return self.transfer(sender, sender.send(message))

    def hello(self, **overrides: typing.Any) -> events.Hello:
        fields: typing.Dict[str, typing.Any] = dict(
            version=protocol.MAX_VERSION, min_version=protocol.MIN_VERSION,
            agent="nova-vm-heartbeat-guest", agent_version="1.0.0",
            boot_id="0b5c6a8e-7d1f-4c2e-9a55-3f0a0c1b2d3e",
            capabilities=("components",), monotonic=42.5)
        fields.update(overrides)
        return events.Hello(**fields)

    def handshake(self) -> None:
        """Resync both ends, hello, welcome: the session is established."""
        assert self.transfer(self.host, self.host.resync()) == [
            events.Resync()]
        assert self.transfer(self.guest, self.guest.resync()) == [
            events.Resync()]
        self.send(self.guest, self.hello())
        version = self.host.offered_version
        assert version is not None
        self.send(self.host, events.Welcome(
            version=version, interval=1.0, timeout=3.0, max_maintenance=600))

    def challenge(self) -> events.Challenge:
        """Send a fresh challenge host to guest; return what arrived."""
        challenge = events.Challenge(seq=next(self._seq),
                                     nonce="%032x" % next(self._seq))
        assert self.send(self.host, challenge) == [challenge]
        return challenge

    def respond(self, challenge: events.Challenge,
                health: events.Health = events.Health.OK,
                components: typing.Tuple[events.Component, ...] = (),
                ) -> typing.List[events.Event]:
        return self.send(self.guest, events.Response(
            seq=challenge.seq, nonce=challenge.nonce, health=health,
            components=components, monotonic=43.0))


def state_of(conn: protocol.Connection) -> protocol.SessionState:
    """The session state (a call, so type checkers do not narrow it)."""
    return conn.state
