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

"""One end of a heartbeat channel, with no I/O of its own.

Feed it what the socket gave you with :meth:`Connection.receive_data`
(``b""`` at EOF), pull :meth:`Connection.next_event` until it returns
:data:`NEED_DATA`, and write whatever :meth:`Connection.send` and
:meth:`Connection.resync` return. It never reads a clock itself: the
caller's ``clock`` drives the rate limit.

The host end checks that every response answers one of the last few
challenges it sent (by ``seq`` and ``nonce``); the guest end checks that
it only answers challenges it received.
"""

from __future__ import annotations

import collections
import typing

from nova_vm_heartbeat.common import ratelimit
from nova_vm_heartbeat.protocol import codec
from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol import events
from nova_vm_heartbeat.protocol import framing
from nova_vm_heartbeat.protocol.limits import DEFAULT_LIMITS
from nova_vm_heartbeat.protocol.limits import Limits
from nova_vm_heartbeat.protocol import schema
from nova_vm_heartbeat.protocol import state as st

HOST = schema.HOST
GUEST = schema.GUEST

#: How many unanswered challenges a response may still match.
CHALLENGE_WINDOW = 4


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


#: :meth:`Connection.next_event` has nothing more until more data arrives.
NEED_DATA = _NeedData()


def negotiate(offer_min: int, offer_max: int, our_min: int,
              our_max: int) -> typing.Optional[int]:
    """The highest version both ranges contain, or None."""
    best = min(offer_max, our_max)
    return best if best >= max(offer_min, our_min) else None


class Connection:
    """The protocol state of one end (``HOST`` or ``GUEST``) of a channel."""

    def __init__(self, our_role: str, *, clock: typing.Callable[[], float],
                 limits: Limits = DEFAULT_LIMITS,
                 min_version: int = schema.MIN_VERSION,
                 max_version: int = schema.MAX_VERSION):
        if our_role not in (HOST, GUEST):
            raise ValueError("role must be %r or %r" % (HOST, GUEST))
        self.our_role = our_role
        self.their_role = GUEST if our_role == HOST else HOST
        self.limits = limits
        self.min_version, self.max_version = min_version, max_version
        self._clock = clock
        self._buffer = framing.LineBuffer(limits)
        self._bucket = ratelimit.TokenBucket(
            limits.max_messages_per_second, limits.max_burst)
        self._reset()

    def _reset(self) -> None:
        self.state = st.AWAIT_HELLO
        #: The negotiated protocol version, once the handshake completed.
        self.version: typing.Optional[int] = None
        #: Host end: the version the last ``hello`` allows (None if none).
        self.offered_version: typing.Optional[int] = None
        self._challenges: typing.Dict[int, str] = collections.OrderedDict()
        self._last_seq = -1
        #: Guest end: the versions its last ``hello`` offered.
        self._offered_range = (self.min_version, self.max_version)

    @property
    def buffered_bytes(self) -> int:
        """Bytes of peer input held, never above ``max_buffer_bytes``."""
        return self._buffer.buffered_bytes

    # -- receiving ---------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the peer; ``b""`` means end of stream."""
        self._buffer.feed(bytes(data))

    def next_event(self) -> typing.Union[events.Event, _NeedData]:
        """The next event from the peer, or :data:`NEED_DATA`.

        :raises RemoteProtocolError: the next piece of input was invalid
            and has been discarded; calling again continues after it.
        """
        item = self._buffer.pop()
        if item is None:
            return NEED_DATA
        if item is framing.RESYNC:
            self._reset()
            return events.Resync()
        if item is framing.EOF:
            self.state = st.CLOSED
            return events.ConnectionClosed()
        if isinstance(item, framing.Overflow):
            raise item.error()
        assert isinstance(item, bytes)
        return self._receive_line(item)

    def _receive_line(self, line: bytes) -> events.Message:
        if not self._bucket.take(self._clock()):
            raise errors.RemoteProtocolError(
                "rate_limited", "more than %g messages per second"
                % self.limits.max_messages_per_second, line)
        version, message = codec.decode_line(line, self.limits)
        if schema.BY_CLASS[type(message)].sender != self.their_role:
            raise errors.RemoteProtocolError(
                "unexpected", "a %s never sends %s"
                % (self.their_role, type(message).__name__), line)
        self._check_version(version, message, line)
        target = st.next_state(self.state, type(message))
        if target is None:
            raise errors.RemoteProtocolError(
                "unexpected", "%s is not allowed in state %s"
                % (type(message).__name__, self.state.value), line)
        self._accept(message, line)
        self.state = target
        return message

    def _check_version(self, version: int, message: events.Message,
                       line: bytes) -> None:
        if isinstance(message, schema.VERSION_FREE):
            return
        expected = self.version
        if expected is not None and version == expected:
            return
        if expected is None and self.min_version <= version \
                <= self.max_version:
            return
        raise errors.RemoteProtocolError(
            "version", "%s carries protocol version %d, the session uses %s"
            % (type(message).__name__, version, expected or "none yet"),
            line)

    def _accept(self, message: events.Message, line: bytes) -> None:
        """Role specific checks and bookkeeping of a received message."""
        if isinstance(message, events.Response):  # nearly every message
            if self._challenges.get(message.seq) != message.nonce:
                raise errors.RemoteProtocolError(
                    "stale_response", "response to seq %d matches no "
                    "outstanding challenge" % message.seq, line)
            del self._challenges[message.seq]
        elif isinstance(message, events.Hello):
            self._new_session()
            self.offered_version = negotiate(
                message.min_version, message.version,
                self.min_version, self.max_version)
        elif isinstance(message, events.Welcome):
            low, high = self._offered_range
            if not low <= message.version <= high:
                raise errors.RemoteProtocolError(
                    "version", "welcome picked version %d, the hello "
                    "offered %d to %d" % (message.version, low, high), line)
            self.version = message.version
        elif isinstance(message, events.Challenge):
            self._remember_challenge(message)

    def _remember_challenge(self, challenge: events.Challenge) -> None:
        self._challenges[challenge.seq] = challenge.nonce
        while len(self._challenges) > CHALLENGE_WINDOW:
            self._challenges.pop(next(iter(self._challenges)))

    # -- sending -----------------------------------------------------------

    def resync(self) -> bytes:
        """Start over: returns the 0xFF byte to send; state is reset."""
        self._reset()
        return framing.RESYNC_BYTE

    def send(self, message: events.Message) -> bytes:
        """The bytes that send ``message``; updates our view of the session.

        :raises LocalProtocolError: this end may not send ``message`` now,
            or the message is invalid.
        """
        message_schema = schema.BY_CLASS.get(type(message))
        if message_schema is None or message_schema.sender != self.our_role:
            raise errors.LocalProtocolError(
                "a %s cannot send %r" % (self.our_role, message))
        target = st.next_state(self.state, type(message))
        if target is None:
            raise errors.LocalProtocolError(
                "cannot send %s in state %s"
                % (type(message).__name__, self.state.value))
        self._check_outgoing(message)
        data = codec.encode(message, self.version or self.max_version,
                            self.limits)
        self._commit_outgoing(message)
        self.state = target
        return data

    def _check_outgoing(self, message: events.Message) -> None:
        if isinstance(message, events.Challenge):  # nearly every message
            if message.seq <= self._last_seq:
                raise errors.LocalProtocolError(
                    "challenge seq must increase (last %d, got %d)"
                    % (self._last_seq, message.seq))
        elif isinstance(message, events.Hello):
            if not (self.min_version <= message.min_version
                    <= message.version <= self.max_version):
                raise errors.LocalProtocolError(
                    "hello must offer versions within %d to %d"
                    % (self.min_version, self.max_version))
        elif isinstance(message, events.Welcome):
            if message.version != self.offered_version:
                raise errors.LocalProtocolError(
                    "welcome must carry the negotiated version %s, not %d"
                    % (self.offered_version, message.version))
        elif isinstance(message, events.Response):
            if self._challenges.get(message.seq) != message.nonce:
                raise errors.LocalProtocolError(
                    "response to seq %d answers no received challenge"
                    % message.seq)

    def _new_session(self) -> None:
        """A ``hello`` starts a new session: forget the old one."""
        self.version = None
        self.offered_version = None
        self._challenges.clear()

    def _commit_outgoing(self, message: events.Message) -> None:
        if isinstance(message, events.Challenge):  # nearly every message
            self._last_seq = message.seq
            self._remember_challenge(message)
        elif isinstance(message, events.Hello):
            self._new_session()
            self._offered_range = (message.min_version, message.version)
        elif isinstance(message, events.Welcome):
            self.version = message.version
        elif isinstance(message, events.Response):
            del self._challenges[message.seq]
