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

"""Test doubles of the guest agent's unit tests: a clock moved by hand and
a host end of the channel wired to an :class:`~.agent.Agent` in memory."""

from __future__ import annotations

import typing

from nova_vm_heartbeat.guest import agent as agent_mod
from nova_vm_heartbeat.guest import components
from nova_vm_heartbeat.guest import session
from nova_vm_heartbeat import protocol


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Replies:
    """Collects what the agent replies to an application."""

    def __init__(self) -> None:
        self.replies: typing.List[typing.Dict[str, typing.Any]] = []

    def __call__(self, reply: typing.Dict[str, typing.Any]) -> None:
        self.replies.append(reply)

    @property
    def last(self) -> typing.Dict[str, typing.Any]:
        assert self.replies, "no reply yet"
        return self.replies[-1]


class Wire:
    """An agent and a host connection, back to back, with no I/O."""

    def __init__(self, limits: protocol.Limits = protocol.DEFAULT_LIMITS,
                 hello_timeout: float = 5.0) -> None:
        self.clock = FakeClock()
        identity = session.Identity(agent="nova-vm-heartbeat-guest",
                                    agent_version="1.0",
                                    boot_id="b00t-1d")
        self.registry = components.Registry(self.clock)
        self.agent = agent_mod.Agent(
            self.registry,
            session.Session(identity, self.clock, limits=limits,
                            hello_timeout=hello_timeout),
            self.clock, port_name="unix:/test")
        self.limits = limits
        self.host = self._new_host()
        self._seq = 0

    def _new_host(self) -> protocol.Connection:
        return protocol.Connection(protocol.HOST, clock=self.clock,
                                   limits=self.limits)

    def to_host(self, data: bytes) -> typing.List[object]:
        """Deliver agent bytes to the host; the events it got."""
        if data:  # b"" would mean end of stream
            self.host.receive_data(data)
        received: typing.List[object] = []
        while True:
            try:
                event = self.host.next_event()
            except protocol.RemoteProtocolError as err:
                received.append(err)
                continue
            if event is protocol.NEED_DATA:
                return received
            received.append(event)

    def to_agent(self, message: protocol.Message) -> typing.List[object]:
        """Send ``message`` host to agent; what the host got back."""
        return self.to_host(self.agent.received(self.host.send(message)))

    def connect(self) -> typing.List[object]:
        """Open the port; what the host received."""
        self.host = self._new_host()
        return self.to_host(self.agent.connected())

    def welcome(self, version: typing.Optional[int] = None,
                ) -> typing.List[object]:
        offered = self.host.offered_version
        assert offered is not None
        return self.to_agent(protocol.Welcome(
            version=version or offered, interval=1.0, timeout=3.0,
            max_maintenance=600))

    def establish(self) -> None:
        """Connect, complete the handshake and drop the first report.

        The clock then moves on until the next report may be sent.
        """
        self.connect()
        self.welcome()
        self.to_host(self.agent.tick())
        self.clock.advance(agent_mod.REPORT_GAP)

    def challenge(self) -> protocol.Response:
        self._seq += 1
        challenge = protocol.Challenge(seq=self._seq,
                                       nonce="%032x" % self._seq)
        events = self.to_agent(challenge)
        responses = [e for e in events if isinstance(e, protocol.Response)]
        assert len(responses) == 1, events
        return responses[0]
