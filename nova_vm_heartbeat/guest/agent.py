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

"""What the agent decides, with no I/O: the heart of the guest agent.

:class:`Agent` ties the component :class:`~.components.Registry` to the
heartbeat :class:`~.session.Session`. It answers challenges with the
aggregated health, sends a ``report`` when health changes (at most one per
:data:`REPORT_GAP`), forwards maintenance and recovery requests of
applications to the host and hands the host's ``ack`` back to whoever is
waiting for it. Bytes for the port are returned, never written; time comes
from the injected clock. :mod:`.daemon` does the I/O around it.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import typing

from nova_vm_heartbeat.guest import api
from nova_vm_heartbeat.guest import components
from nova_vm_heartbeat.guest import health
from nova_vm_heartbeat.guest import session as session_mod
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import errors

LOG = logging.getLogger(__name__)

#: Least seconds between two unsolicited reports.
REPORT_GAP = 1.0
#: Seconds an application waits for the host's ``ack``.
ACK_TIMEOUT = 5.0
#: Most requests waiting for the host's ``ack`` at once.
MAX_WAITERS = 8

ReplyFn = typing.Callable[[api.JsonDict], None]


@dataclasses.dataclass
class _Waiter:
    """An application waiting for the host's answer."""

    subject: protocol.AckSubject
    deadline: float
    reply: ReplyFn


def _components_json(snapshot: components.Snapshot) -> api.JsonDict:
    return {c.name: {"status": c.status.value, "reason": c.reason,
                     "progress": c.progress}
            for c in snapshot.components}


class Agent:
    """The guest agent's state and decisions."""

    def __init__(self, registry: components.Registry,
                 session: session_mod.Session,
                 clock: typing.Callable[[], float], port_name: str = ""):
        self.registry = registry
        #: Where the port is, for ``status``.
        self.port_name = port_name
        self.session = session
        self._clock = clock
        self._waiters: typing.Deque[_Waiter] = collections.deque()
        self._reported: typing.Optional[typing.Tuple[object, ...]] = None
        self._reported_at = -REPORT_GAP
        self._notice: typing.Optional[typing.Tuple[protocol.Notice,
                                                   float]] = None
        self._maintenance_until: typing.Optional[float] = None

    # -- the port ------------------------------------------------------------

    def connected(self) -> bytes:
        """The port was (re)opened: the bytes that start a session."""
        self._reported = None
        return self.session.open()

    def disconnected(self) -> None:
        """The port was closed; nobody will answer pending requests."""
        self.session.close()
        self._fail_waiters("the heartbeat channel to the host closed before "
                           "the host answered")

    def received(self, data: bytes) -> bytes:
        """Bytes from the host in, bytes for the host out."""
        out = b""
        for reply, message in self.session.receive(data):
            out += reply
            if message is not None:
                out += self._dispatch(message)
        return out

    def _dispatch(self, message: protocol.Message) -> bytes:
        if isinstance(message, protocol.Challenge):
            return self._respond(message)
        if isinstance(message, protocol.Welcome):
            self._reported = None  # a new session starts with a report
        elif isinstance(message, protocol.Ack):
            self._on_ack(message)
        elif isinstance(message, protocol.Notice):
            self._on_notice(message)
        return b""

    def _respond(self, challenge: protocol.Challenge) -> bytes:
        snapshot = self.registry.snapshot()
        try:
            data = health.encode_fitting(
                health.response(challenge, snapshot.health, self._clock()),
                snapshot.components, self.session.send)
        except protocol.LocalProtocolError as err:
            LOG.error("Cannot answer challenge %d: %s", challenge.seq, err)
            return b""
        self._reported = snapshot.signature()
        return data

    def _on_ack(self, ack: protocol.Ack) -> None:
        LOG.info("The host %s the %s request: granted %d, reason %s",
                 "accepted" if ack.accepted else "refused",
                 ack.subject.value, ack.granted,
                 errors.excerpt(ack.reason) or "-")
        if ack.subject is protocol.AckSubject.MAINTENANCE and ack.accepted:
            self._maintenance_until = (self._clock() + ack.granted
                                       if ack.granted else None)
        waiter = next((w for w in self._waiters
                       if w.subject is ack.subject), None)
        if waiter is None:
            return
        self._waiters.remove(waiter)
        reply: api.JsonDict = {"ok": ack.accepted, "accepted": ack.accepted,
                               "granted": ack.granted, "reason": ack.reason}
        if not ack.accepted:
            reply["error"] = "the host refused: %s" % (
                ack.reason or "no reason given")
        waiter.reply(reply)

    def _on_notice(self, notice: protocol.Notice) -> None:
        LOG.warning("The platform announces: %s in %d s",
                    notice.event.value, notice.deadline)
        self._notice = (notice, self._clock())

    # -- time ----------------------------------------------------------------

    def tick(self) -> bytes:
        """Do what is due now; the bytes to send to the host."""
        self._expire_waiters()
        return self.session.tick() + self._report_if_changed()

    def _report_if_changed(self) -> bytes:
        if not self.session.established:
            return b""
        now = self._clock()
        snapshot = self.registry.snapshot()
        if (snapshot.signature() == self._reported
                or now < self._reported_at + REPORT_GAP):
            return b""
        self._reported_at = now  # a failure too waits before a retry
        try:
            data = health.encode_fitting(
                health.report(snapshot.health, now), snapshot.components,
                self.session.send)
        except protocol.LocalProtocolError as err:
            LOG.error("Cannot send a health report: %s", err)
            return b""
        self._reported = snapshot.signature()
        return data

    def _expire_waiters(self) -> None:
        now = self._clock()
        for waiter in [w for w in self._waiters if w.deadline <= now]:
            self._waiters.remove(waiter)
            waiter.reply(api.error_reply(
                "the host did not answer within %g s" % ACK_TIMEOUT))

    def next_deadline(self) -> typing.Optional[float]:
        """When :meth:`tick` next has something to do (None: no timer)."""
        deadlines = [self.session.hello_due, self.registry.next_expiry()]
        deadlines += [w.deadline for w in self._waiters]
        if (self.session.established and
                self.registry.snapshot().signature() != self._reported):
            deadlines.append(self._reported_at + REPORT_GAP)
        present = [d for d in deadlines if d is not None]
        return min(present) if present else None

    # -- stopping ------------------------------------------------------------

    def goodbye(self, reason: protocol.ByeReason) -> bytes:
        """The bytes that say ``bye``, if a session is open to say it in."""
        self._fail_waiters("the agent is stopping")
        try:
            return self.session.send(protocol.Bye(reason=reason))
        except protocol.LocalProtocolError:
            return b""

    def _fail_waiters(self, message: str) -> None:
        while self._waiters:
            self._waiters.popleft().reply(api.error_reply(message))

    # -- applications --------------------------------------------------------

    def handle(self, request: api.Request, reply: ReplyFn) -> bytes:
        """Carry out an application's request; the bytes for the host.

        ``reply`` is called once: now, or when the host answers.
        """
        try:
            if isinstance(request, (api.Maintenance, api.Recovery)):
                return self._forward(request, reply)
            reply(self._local(request))
        except (components.ComponentError, api.ApiError) as err:
            reply(api.error_reply(str(err)))
        return b""

    def _local(self, request: api.Request) -> api.JsonDict:
        if isinstance(request, api.Register):
            self.registry.register(request.component, request.ttl)
        elif isinstance(request, api.Notify):
            self.registry.notify(request.component, request.status,
                                 request.reason, request.progress,
                                 request.ttl)
        elif isinstance(request, api.Unregister):
            self.registry.unregister(request.component)
        elif isinstance(request, api.Status):
            return self.status()
        return api.ok_reply(health=self.registry.snapshot().health.value)

    def _forward(self, request: typing.Union[api.Maintenance, api.Recovery],
                 reply: ReplyFn) -> bytes:
        if not self.session.established:
            raise api.ApiError(
                "the heartbeat channel to the host is not established "
                "(state: %s); try again later" % self.session.state)
        if len(self._waiters) >= MAX_WAITERS:
            raise api.ApiError("%d requests already wait for the host's "
                               "answer; try again later" % MAX_WAITERS)
        message: protocol.Message
        if isinstance(request, api.Maintenance):
            message = protocol.Maintenance(request.duration, request.reason)
            subject = protocol.AckSubject.MAINTENANCE
        else:
            message = protocol.Request(request.action, request.reason)
            subject = protocol.AckSubject.REQUEST
        data = self.session.send(message)
        self._waiters.append(_Waiter(subject, self._clock() + ACK_TIMEOUT,
                                     reply))
        return data

    def status(self) -> api.JsonDict:
        """What ``status`` replies: the channel, health and components."""
        snapshot = self.registry.snapshot()
        return api.ok_reply(
            channel=self._channel_json(), health=snapshot.health.value,
            components=_components_json(snapshot),
            last_notice=self._notice_json(),
            maintenance_remaining=self._remaining())

    def _channel_json(self) -> api.JsonDict:
        welcome, now = self.session.welcome, self._clock()
        last = self.session.last_challenge_at
        return {"state": self.session.state, "port": self.port_name,
                "version": welcome.version if welcome else None,
                "interval": welcome.interval if welcome else None,
                "timeout": welcome.timeout if welcome else None,
                "max_maintenance": (welcome.max_maintenance if welcome
                                    else None),
                "last_challenge_age": (None if last is None
                                       else round(now - last, 3))}

    def _notice_json(self) -> typing.Optional[api.JsonDict]:
        if self._notice is None:
            return None
        notice, at = self._notice
        return {"event": notice.event.value, "deadline": notice.deadline,
                "age": round(self._clock() - at, 3)}

    def _remaining(self) -> typing.Optional[float]:
        if self._maintenance_until is None:
            return None
        remaining = self._maintenance_until - self._clock()
        return round(remaining, 3) if remaining > 0 else None
