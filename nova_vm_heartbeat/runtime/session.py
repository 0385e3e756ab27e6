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

"""The host end of one heartbeat session: protocol events to signals.

:class:`HostSession` wraps a :class:`nova_vm_heartbeat.protocol.Connection`
and knows nothing of sockets: it takes the bytes a channel read and
returns the monitor signals they amount to, with the bytes to write back
(``welcome``, ``error``). It applies the host's MUSTs and SHOULDs of the
protocol specification: a fresh connection and a 0xFF on every connect,
``welcome`` or ``error(unsupported_version)`` for every ``hello``,
rate-limited ``error`` courtesies, no warning for the single stale answer
that follows a second ``hello``, and warnings about guest input at most
once a minute, with an escaped excerpt.

Invalid input is coalesced: however many lines a guest gets wrong, the
monitor gets at most one :class:`ProtocolViolation` per interval, with
the count by kind (the first at once, the rest when the interval ends).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import re
import secrets
import typing

from nova_vm_heartbeat.common.log_throttle import LogThrottle
from nova_vm_heartbeat.monitor import actions as act
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol.limits import MAX_MAINTENANCE

LOG = logging.getLogger(__name__)

HB = sig.Channel.HEARTBEAT
#: Longest ``reason`` we put in an ``error``.
MAX_REASON = 200
#: Stale answers forgiven right after a ``hello`` (see the protocol spec,
#: "Two hellos on one connect are normal").
STALE_ALLOWANCE = 1
#: Bytes of randomness in a challenge's nonce (32 hex digits).
NONCE_BYTES = 16
#: Nonces drawn from the system's CSPRNG at once, per session: one
#: ``getrandom`` call serves this many challenges instead of one.
NONCES_PER_DRAW = 16
_EVENT_TYPES = (protocol.Message, protocol.Resync, protocol.ConnectionClosed)
_NOT_ID = re.compile(r"[^A-Za-z0-9_.:+~-]")


@dataclasses.dataclass(frozen=True)
class Terms:
    """What the host tells the guest in ``welcome``."""

    interval: float
    timeout: float
    max_maintenance: int


@dataclasses.dataclass
class Received:
    """What a chunk of guest bytes amounted to."""

    signals: typing.List[sig.Signal] = dataclasses.field(
        default_factory=list)
    #: Bytes to send back to the guest.
    replies: bytes = b""
    #: The guest's end of the stream was reached.
    closed: bool = False


class NonceSource:
    """Unpredictable challenge nonces, drawn from the CSPRNG in batches.

    Each nonce is :data:`NONCE_BYTES` bytes of ``secrets.token_bytes``, as
    unpredictable as one drawn alone and used once; only the system call
    is shared.
    """

    def __init__(self, per_draw: int = NONCES_PER_DRAW):
        self._per_draw = per_draw
        self._pool = b""
        self._at = 0

    def next(self) -> str:
        """A fresh nonce: :data:`NONCE_BYTES` random bytes in hex."""
        if self._at >= len(self._pool):
            self._pool = secrets.token_bytes(NONCE_BYTES * self._per_draw)
            self._at = 0
        nonce = self._pool[self._at:self._at + NONCE_BYTES].hex()
        self._at += NONCE_BYTES
        return nonce


def session_id(name: str, number: int) -> str:
    """A protocol *id* naming session ``number`` of domain ``name``."""
    suffix = ".%d" % number
    base = _NOT_ID.sub("-", name)[:64 - len(suffix)]
    if not base[:1].isalnum():
        base = "s" + base[:63 - len(suffix)]
    return base + suffix


class HostSession:
    """The protocol state of one channel, from the host's side.

    :param label: who the guest is, for logs (uuid and domain name).
    :param terms: what ``welcome`` says; :attr:`terms` may change.
    """

    def __init__(self, label: str, name: str, terms: Terms,
                 limits: protocol.Limits,
                 clock: typing.Callable[[], float]):
        self.label = label
        self.name = name
        self.terms = terms
        self.limits = limits
        self.clock = clock
        #: Guest errors by kind, since this session object exists.
        self.violations: typing.Counter[str] = collections.Counter()
        self.conn = protocol.Connection(protocol.HOST, clock=clock,
                                        limits=limits)
        self._warnings = LogThrottle(60.0)
        # What the guest says at INFO level, at most every 10 s.
        self._notes = LogThrottle(10.0)
        self._next_error = -math.inf
        #: Invalid input not yet signalled, by kind.
        self._rejected: typing.Counter[str] = collections.Counter()
        self._next_signal = -math.inf
        self._stale = 0
        self._stale_until = -math.inf
        self._sessions = 0
        self._greeting: typing.Optional[typing.Tuple[str, str, str]] = None
        self._nonces = NonceSource()

    @property
    def established(self) -> bool:
        return self.conn.state is protocol.SessionState.ESTABLISHED

    @property
    def buffered_bytes(self) -> int:
        return self.conn.buffered_bytes

    # -- our side ---------------------------------------------------------

    def start(self) -> bytes:
        """A fresh connection; the 0xFF to send first."""
        self.conn = protocol.Connection(protocol.HOST, clock=self.clock,
                                        limits=self.limits)
        return self.conn.resync()

    def challenge(self, seq: int) -> typing.Optional[bytes]:
        """The bytes of challenge ``seq``; None without a session."""
        if not self.established:
            return None
        return self._send(protocol.Challenge(seq=seq,
                                             nonce=self._nonces.next()))

    def ack(self, action: act.SendAck) -> typing.Optional[bytes]:
        """The bytes of an ``ack``; None without a session."""
        if not self.established:
            return None
        return self._send(protocol.Ack(
            subject=action.subject, accepted=action.accepted,
            granted=min(action.granted, MAX_MAINTENANCE),
            reason=action.reason[:self.limits.max_string_chars]))

    def _send(self, message: protocol.Message) -> typing.Optional[bytes]:
        try:
            return self.conn.send(message)
        except protocol.LocalProtocolError as err:
            LOG.debug("Instance %(label)s: not sending %(type)s: %(err)s",
                      {"label": self.label, "type": type(message).__name__,
                       "err": err})
            return None

    # -- their side -------------------------------------------------------

    def receive(self, data: bytes) -> Received:
        """Take bytes read from the guest (``b""``: end of stream)."""
        self.conn.receive_data(data)
        received = Received()
        while True:
            try:
                event = self.conn.next_event()
            except protocol.RemoteProtocolError as err:
                self._violation(err, received)
                continue
            if not isinstance(event, _EVENT_TYPES):
                received.signals.extend(self.flush_rejected())
                return received  # NEED_DATA
            self._dispatch(event, received)

    def _dispatch(self, event: protocol.Event, received: Received) -> None:
        # Nearly every event is an answer: _translate() tries it first,
        # and an answer is not worth a log line.
        signal = _translate(event)
        if signal is not None:
            if not isinstance(event, protocol.Response):
                self._log_event(event)
            received.signals.append(signal)
        elif isinstance(event, protocol.Hello):
            self._hello(event, received)
        elif isinstance(event, protocol.ConnectionClosed):
            received.closed = True

    def _hello(self, hello: protocol.Hello, received: Received) -> None:
        version = self.conn.offered_version
        if version is None:
            self._log_unsupported(hello)
            received.replies += self._send(protocol.Error(
                code=protocol.ErrorCode.UNSUPPORTED_VERSION,
                reason="this host speaks versions %d to %d"
                % (protocol.MIN_VERSION, protocol.MAX_VERSION),
                versions=(protocol.MIN_VERSION, protocol.MAX_VERSION))) or b""
            return
        self._sessions += 1
        welcome = protocol.Welcome(
            version=version, interval=_seconds(self.terms.interval),
            timeout=_seconds(self.terms.timeout),
            max_maintenance=min(self.terms.max_maintenance, MAX_MAINTENANCE),
            session=session_id(self.name, self._sessions))
        received.replies += self._send(welcome) or b""
        self._stale = STALE_ALLOWANCE
        self._stale_until = self.clock() + self.terms.interval \
            + self.terms.timeout
        self._log_hello(hello)
        received.signals.append(sig.AgentGreeted(boot_id=hello.boot_id))

    # -- guest errors -----------------------------------------------------

    def _violation(self, err: protocol.RemoteProtocolError,
                   received: Received) -> None:
        now = self.clock()
        if err.kind == "stale_response" and self._stale > 0 \
                and now < self._stale_until:
            self._stale -= 1
            LOG.debug("Instance %(label)s: stale answer after a second "
                      "hello, as expected: %(err)s",
                      {"label": self.label, "err": err})
            return
        self.violations[err.kind] += err.count
        self._rejected[err.kind] += err.count
        self._warn(now, err)
        received.replies += self._courtesy(now, err)

    def rejected_due(self) -> typing.Optional[float]:
        """When :meth:`flush_rejected` has a signal to give; None: never."""
        return self._next_signal if self._rejected else None

    def flush_rejected(self) -> typing.List[sig.ProtocolViolation]:
        """The one signal of the interval about invalid input, if due."""
        if not self._rejected:  # the usual case: no clock read
            return []
        now = self.clock()
        if now < self._next_signal:
            return []
        by_kind = tuple(sorted(self._rejected.items()))
        kind = self._rejected.most_common(1)[0][0]
        self._rejected.clear()
        self._next_signal = now + self.terms.interval
        return [sig.ProtocolViolation(kind, sum(n for _, n in by_kind),
                                      by_kind if len(by_kind) > 1 else ())]

    def _warn(self, now: float, err: protocol.RemoteProtocolError) -> None:
        held = self._warnings.allow(now)
        if held is None:
            return
        # str(err) quotes the guest's input escaped and truncated.
        LOG.warning("Instance %(label)s: the guest sent invalid input "
                    "(%(err)s); %(held)d more since the last warning, "
                    "%(total)d in all", {
                        "label": self.label, "err": err, "held": held,
                        "total": sum(self.violations.values())})

    def _courtesy(self, now: float,
                  err: protocol.RemoteProtocolError) -> bytes:
        """An ``error`` for the guest, at most one per interval."""
        if now < self._next_error:
            return b""
        self._next_error = now + max(1.0, self.terms.interval)
        code = protocol.ErrorCode.PROTOCOL_ERROR
        if err.kind == "rate_limited":
            code = protocol.ErrorCode.RATE_LIMITED
        elif err.kind == "unexpected" and not self.established:
            code = protocol.ErrorCode.HELLO_REQUIRED
        reason = ("%s: %s" % (err.kind, err.detail))[:MAX_REASON]
        return self._send(protocol.Error(code=code, reason=reason)) or b""

    # -- logs -------------------------------------------------------------

    def _note_level(self, worth_noting: bool = True) -> int:
        """INFO for what is worth noting, unless the guest says too much."""
        if worth_noting and self._notes.allow(self.clock()) is not None:
            return logging.INFO
        return logging.DEBUG

    def _log_hello(self, hello: protocol.Hello) -> None:
        greeting = (hello.agent, hello.agent_version, hello.boot_id)
        level = self._note_level(greeting != self._greeting)
        self._greeting = greeting
        # Names and ids are validated to [A-Za-z0-9_.:+~-] by the codec.
        LOG.log(level, "Instance %(label)s: guest agent %(agent)s "
                "%(version)s said hello (boot id %(boot)s)", {
                    "label": self.label, "agent": hello.agent,
                    "version": hello.agent_version,
                    "boot": hello.boot_id or "not given"})

    def _log_unsupported(self, hello: protocol.Hello) -> None:
        if self._warnings.allow(self.clock()) is None:
            return
        LOG.warning("Instance %(label)s: guest agent %(agent)s speaks "
                    "protocol versions %(low)d to %(high)d, this host "
                    "%(ours_low)d to %(ours_high)d", {
                        "label": self.label, "agent": hello.agent,
                        "low": hello.min_version, "high": hello.version,
                        "ours_low": protocol.MIN_VERSION,
                        "ours_high": protocol.MAX_VERSION})

    def _log_event(self, event: protocol.Event) -> None:
        if isinstance(event, (protocol.Maintenance, protocol.Request)):
            what = ("maintenance for %d s" % event.duration
                    if isinstance(event, protocol.Maintenance)
                    else "recovery (%s)" % event.action.value)
            LOG.log(self._note_level(), "Instance %(label)s: the guest asks "
                    "for %(what)s: %(reason)s", {
                        "label": self.label, "what": what,
                        "reason": errors.excerpt(event.reason)})
        elif isinstance(event, protocol.Bye):
            LOG.log(self._note_level(), "Instance %(label)s: guest agent "
                    "says bye (%(reason)s)", {"label": self.label,
                                              "reason": event.reason.value})


def _seconds(value: float) -> float:
    """``value`` within the protocol's *seconds* type (0.1 to 3600)."""
    return min(max(value, 0.1), 3600.0)


def _translate(event: protocol.Event) -> typing.Optional[sig.Signal]:
    """The monitor signal of a guest message or a resync; None if none.

    Hello and the end of the stream have none: ``_dispatch`` handles them.
    """
    if isinstance(event, protocol.Response):
        return sig.HeartbeatAnswered(event.seq, event.health,
                                     event.components)
    if isinstance(event, protocol.Report):
        return sig.HealthReported(event.health, event.components)
    if isinstance(event, protocol.Maintenance):
        return sig.MaintenanceRequested(event.duration, event.reason)
    if isinstance(event, protocol.Request):
        return sig.RecoveryRequested(event.action, event.reason)
    if isinstance(event, protocol.Bye):
        return sig.AgentLeft(event.reason)
    if isinstance(event, protocol.Resync):
        return sig.ChannelLost(HB)
    return None
