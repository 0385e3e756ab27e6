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

"""The guest end of one heartbeat session, over whatever port is open.

:class:`Session` owns the :class:`~nova_vm_heartbeat.protocol.Connection`
and the handshake: it says ``hello`` when the port opens, again when the
host resynchronises or asks for it, and again with a growing backoff while
no ``welcome`` comes. Everything else the host sends (challenges, notices,
acks) is handed to the caller. It does no I/O and reads the clock only
through the ``clock`` it is given.
"""

from __future__ import annotations

import dataclasses
import logging
import typing

from nova_vm_heartbeat.common import log_throttle
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol import fields

LOG = logging.getLogger(__name__)

#: Seconds to wait for ``welcome`` before the first resend of ``hello``.
HELLO_TIMEOUT = 5.0
#: The longest wait between two ``hello`` while no ``welcome`` comes.
HELLO_MAX_BACKOFF = 30.0
#: Seconds before a retry after the host said it speaks no common version.
VERSION_RETRY = 60.0
#: ``hello`` is not repeated sooner than this when the host asks for it.
HELLO_MIN_GAP = 1.0
#: What the agent can do, advertised in ``hello``.
CAPABILITIES = ("components", "maintenance", "request", "checks")

BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"

#: What one event from the host leads to: bytes to send back, and the
#: message for the caller to act on.
Step = typing.Tuple[bytes, typing.Optional[protocol.Message]]


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who the agent is, as told in ``hello``."""

    agent: str
    agent_version: str
    boot_id: str = ""
    capabilities: typing.Tuple[str, ...] = CAPABILITIES

    def __post_init__(self) -> None:
        for attr in ("agent_version", "boot_id"):
            if not fields.NAME_RE.match(getattr(self, attr)):
                object.__setattr__(self, attr, "")
        if not self.agent_version:
            object.__setattr__(self, "agent_version", "unknown")


def read_boot_id(path: str = BOOT_ID_PATH) -> str:
    """The kernel's boot id, or ``""`` where there is none."""
    try:
        with open(path, encoding="ascii", errors="replace") as stream:
            return stream.read(64).strip()
    except OSError:
        return ""


class Session:
    """The protocol state of the guest end of the channel."""

    def __init__(self, identity: Identity,
                 clock: typing.Callable[[], float],
                 limits: protocol.Limits = protocol.DEFAULT_LIMITS,
                 hello_timeout: float = HELLO_TIMEOUT):
        self.identity = identity
        self.limits = limits
        self.hello_timeout = hello_timeout
        self._clock = clock
        self._throttle = log_throttle.ThrottledLog(LOG, clock)
        self.conn: typing.Optional[protocol.Connection] = None
        #: When (monotonic) the last challenge arrived, in any session.
        self.last_challenge_at: typing.Optional[float] = None
        self._forget()

    def _forget(self) -> None:
        #: The host's ``welcome`` of the current session, if any.
        self.welcome: typing.Optional[protocol.Welcome] = None
        #: When to send ``hello`` again (None: no resend planned).
        self.hello_due: typing.Optional[float] = None
        self._hello_backoff = self.hello_timeout
        self._hello_sent_at = -HELLO_MIN_GAP

    @property
    def state(self) -> str:
        """``closed`` while no port is open, else the session state."""
        if self.conn is None:
            return protocol.SessionState.CLOSED.value
        return str(self.conn.state.value)

    @property
    def established(self) -> bool:
        """Whether the handshake is complete."""
        return (self.conn is not None
                and self.conn.state is protocol.SessionState.ESTABLISHED)

    def open(self) -> bytes:
        """A port was opened: reset the host's parser and say hello."""
        self.conn = protocol.Connection(
            protocol.GUEST, clock=self._clock, limits=self.limits)
        self._forget()
        return self.conn.resync() + self._hello(resync=False)

    def close(self) -> None:
        """The port was closed."""
        self.conn = None
        self._forget()

    def send(self, message: protocol.Message) -> bytes:
        """The bytes that send ``message``.

        :raises LocalProtocolError: no port is open, or ``message`` is not
            allowed now.
        """
        if self.conn is None:
            raise protocol.LocalProtocolError("the port is not open")
        return self.conn.send(message)

    def _hello(self, resync: bool) -> bytes:
        assert self.conn is not None
        prefix = self.conn.resync() if resync else b""
        now = self._clock()
        self._hello_sent_at = now
        self.hello_due = now + self._hello_backoff
        self.welcome = None
        return prefix + self.conn.send(protocol.Hello(
            version=self.conn.max_version,
            min_version=self.conn.min_version,
            agent=self.identity.agent,
            agent_version=self.identity.agent_version,
            boot_id=self.identity.boot_id,
            capabilities=self.identity.capabilities,
            monotonic=now))

    def tick(self) -> bytes:
        """Resend ``hello`` if the host is overdue with ``welcome``."""
        if self.conn is None or self.hello_due is None:
            return b""
        if self._clock() < self.hello_due:
            return b""
        LOG.info("No welcome from the host within %g s; saying hello again",
                 self._hello_backoff)
        self._hello_backoff = min(self._hello_backoff * 2, HELLO_MAX_BACKOFF)
        return self._hello(resync=True)

    def receive(self, data: bytes) -> typing.Iterator[Step]:
        """Feed bytes from the host; what each event they hold means.

        Each step is the bytes the handshake sends back, and the message
        the caller acts on (a challenge, notice, ack or welcome), if any.
        Act on each step before taking the next: the session moves on.
        """
        if self.conn is None:
            return iter(())
        self.conn.receive_data(data)
        return self._steps(self.conn)

    def _steps(self, conn: protocol.Connection) -> typing.Iterator[Step]:
        while conn is self.conn:
            try:
                event = conn.next_event()
            except protocol.RemoteProtocolError as err:
                self._log_error(err)
                continue
            if event is protocol.NEED_DATA:
                return
            yield self._handle(event)

    def _log_error(self, err: protocol.RemoteProtocolError) -> None:
        # Both ends send 0xFF on connect and the guest answers 0xFF with
        # hello, so a second welcome after the first is routine: a message
        # out of order is not worth a warning.
        level = logging.INFO if err.kind == "unexpected" else logging.WARNING
        self._throttle.log(level, err.kind,
                           "Ignored input from the host: %s", err)

    def _handle(self, event: object) -> Step:
        if isinstance(event, protocol.Resync):
            LOG.info("The host reset the channel; saying hello")
            self._hello_backoff = self.hello_timeout
            return self._hello(resync=False), None
        if isinstance(event, protocol.Welcome):
            self._on_welcome(event)
            return b"", event
        if isinstance(event, protocol.Error):
            return self._on_error(event), None
        if isinstance(event, protocol.Challenge):
            self.last_challenge_at = self._clock()
        if isinstance(event, protocol.Message):
            return b"", event
        return b"", None

    def _on_welcome(self, welcome: protocol.Welcome) -> None:
        self.welcome = welcome
        self.hello_due = None
        self._hello_backoff = self.hello_timeout
        LOG.info("Heartbeat channel established: protocol version %d, "
                 "challenge every %g s, answer within %g s, maintenance up "
                 "to %d s, session %s", welcome.version, welcome.interval,
                 welcome.timeout, welcome.max_maintenance,
                 errors.excerpt(welcome.session) or "-")

    def _on_error(self, error: protocol.Error) -> bytes:
        code = protocol.ErrorCode
        if error.code is code.HELLO_REQUIRED:
            if self._clock() - self._hello_sent_at < HELLO_MIN_GAP:
                return b""
            LOG.info("The host asks for hello; saying hello")
            return self._hello(resync=False)
        if error.code is code.UNSUPPORTED_VERSION:
            self._unsupported(error)
            return b""
        self._throttle.log(logging.WARNING, error.code.value,
                           "The host reports an error: %s: %s",
                           error.code.value, errors.excerpt(error.reason))
        return b""

    def _unsupported(self, error: protocol.Error) -> None:
        assert self.conn is not None
        theirs = ("%d to %d" % error.versions if error.versions
                  else "unknown versions")
        LOG.error("The host speaks no protocol version this agent speaks: "
                  "host %s, agent %d to %d (%s). Retrying in %g s; upgrade "
                  "the agent or the host.", theirs, self.conn.min_version,
                  self.conn.max_version, errors.excerpt(error.reason),
                  VERSION_RETRY)
        self.hello_due = self._clock() + VERSION_RETRY
