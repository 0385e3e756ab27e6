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

"""The session state machine of the heartbeat channel, as one table.

Everything that decides whether a message is allowed, and what state
follows it, lives here. Both ends keep their own view of the session and
apply the same table: the sender when it sends, the receiver when it
receives. The table does not know which end it runs on.
"""

from __future__ import annotations

import enum
import typing

from nova_vm_heartbeat.protocol import events


class SessionState(enum.Enum):
    """Where a session stands, seen from one end."""

    #: No session: the guest must send ``hello`` (initial state, and the
    #: state after either end sends 0xFF).
    AWAIT_HELLO = "await_hello"
    #: ``hello`` was sent; the host has to answer with ``welcome``.
    AWAIT_WELCOME = "await_welcome"
    #: Handshake complete: challenges, responses and reports flow.
    ESTABLISHED = "established"
    #: The guest said ``bye`` or the stream ended.
    CLOSED = "closed"


_ALL = tuple(SessionState)
AWAIT_HELLO = SessionState.AWAIT_HELLO
AWAIT_WELCOME = SessionState.AWAIT_WELCOME
ESTABLISHED = SessionState.ESTABLISHED
CLOSED = SessionState.CLOSED


def _from(states: typing.Iterable[SessionState],
          target: typing.Optional[SessionState] = None,
          ) -> typing.Dict[SessionState, SessionState]:
    """Allowed in ``states``; moves to ``target`` (None: stays)."""
    return {state: target or state for state in states}


#: message class -> {state it is allowed in: state after it}
TRANSITIONS: typing.Dict[
        type, typing.Dict[SessionState, SessionState]] = {
    # guest -> host
    events.Hello: _from(_ALL, AWAIT_WELCOME),
    events.Response: _from([ESTABLISHED]),
    events.Report: _from([ESTABLISHED]),
    events.Maintenance: _from([ESTABLISHED]),
    events.Request: _from([ESTABLISHED]),
    events.Bye: _from([AWAIT_WELCOME, ESTABLISHED], CLOSED),
    # host -> guest
    # A second welcome is harmless: when the guest opens the port just as
    # the host connects, the guest sends two hellos and gets two welcomes.
    events.Welcome: _from([AWAIT_WELCOME, ESTABLISHED], ESTABLISHED),
    events.Challenge: _from([ESTABLISHED]),
    events.Notice: _from([ESTABLISHED]),
    events.Ack: _from([ESTABLISHED]),
    events.Error: _from(_ALL),
    # not messages: 0xFF from either end, and the end of the stream
    events.Resync: _from(_ALL, AWAIT_HELLO),
    events.ConnectionClosed: _from(_ALL, CLOSED),
}


def next_state(state: SessionState,
               event_type: type) -> typing.Optional[SessionState]:
    """The state after ``event_type`` in ``state``; None if not allowed."""
    return TRANSITIONS[event_type].get(state)
