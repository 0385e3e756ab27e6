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

"""The vocabulary of the heartbeat channel, as frozen typed objects.

Each class is one message type of the wire protocol (see
``doc/source/reference/protocol.rst``); :mod:`.codec` maps them to and from
JSON lines. :class:`Resync` and :class:`ConnectionClosed` are not messages:
they report a 0xFF resynchronisation byte and the end of the stream.

Untrusted input becomes one of these objects at the codec, already
validated; nothing past the codec handles a raw ``dict``.
"""

from __future__ import annotations

import dataclasses
import enum
import typing

__all__ = [
    "Health", "RecoveryAction", "ByeReason", "NoticeEvent", "AckSubject",
    "ErrorCode", "Component", "Message", "Hello", "Welcome", "Challenge",
    "Response", "Report", "Maintenance", "Request", "Bye", "Notice", "Ack",
    "Error", "Resync", "ConnectionClosed", "Event",
]


class Health(str, enum.Enum):
    """Overall health of the guest, or status of one component."""

    #: Everything the agent watches is fine.
    OK = "ok"
    #: Something the agent watches has failed.
    FAILED = "failed"


class RecoveryAction(str, enum.Enum):
    """What a guest may ask the platform to do to it."""

    REBOOT = "reboot"
    STOP = "stop"


class ByeReason(str, enum.Enum):
    """Why the guest agent is leaving."""

    #: The guest operating system is shutting down.
    SHUTDOWN = "shutdown"
    #: The guest operating system is rebooting.
    REBOOT = "reboot"
    #: Only the agent is stopping; the guest keeps running.
    AGENT_STOP = "agent_stop"


class NoticeEvent(str, enum.Enum):
    """Platform operations the host announces to the guest."""

    REBOOT = "reboot"
    STOP = "stop"
    PAUSE = "pause"
    SUSPEND = "suspend"
    MIGRATE = "migrate"
    SNAPSHOT = "snapshot"
    RESCUE = "rescue"
    RESIZE = "resize"
    SHELVE = "shelve"


class AckSubject(str, enum.Enum):
    """Which guest message an :class:`Ack` answers."""

    MAINTENANCE = "maintenance"
    REQUEST = "request"


class ErrorCode(str, enum.Enum):
    """Why the host sends an :class:`Error`."""

    #: No protocol version is spoken by both sides.
    UNSUPPORTED_VERSION = "unsupported_version"
    #: The guest sent a message before completing the handshake.
    HELLO_REQUIRED = "hello_required"
    #: The guest sent something the host could not accept.
    PROTOCOL_ERROR = "protocol_error"
    #: The guest sends messages faster than the host accepts them.
    RATE_LIMITED = "rate_limited"


@dataclasses.dataclass(frozen=True)
class Component:
    """The health of one named component inside the guest."""

    name: str
    status: Health
    #: Why the component is in this state (free text, may be empty).
    reason: str = ""
    #: A counter the component advances while it makes progress.
    progress: typing.Optional[int] = None


class Message:
    """Base class of every message on the wire."""


@dataclasses.dataclass(frozen=True)
class Hello(Message):
    """Guest to host: the agent (re)introduces itself."""

    #: The highest protocol version the agent speaks.
    version: int
    #: The lowest protocol version the agent speaks.
    min_version: int
    agent: str
    agent_version: str
    #: The guest kernel's boot id: it changes when the guest reboots.
    boot_id: str = ""
    capabilities: typing.Tuple[str, ...] = ()
    #: The guest's monotonic clock, in seconds.
    monotonic: float = 0.0


@dataclasses.dataclass(frozen=True)
class Welcome(Message):
    """Host to guest: the handshake is complete."""

    #: The negotiated protocol version of the session.
    version: int
    #: Seconds between challenges.
    interval: float
    #: Seconds the guest has to answer a challenge.
    timeout: float
    #: The longest maintenance window the host grants, in seconds.
    max_maintenance: int
    #: An opaque identifier of the host's session, for logs.
    session: str = ""


@dataclasses.dataclass(frozen=True)
class Challenge(Message):
    """Host to guest: prove you are alive now."""

    seq: int
    #: Unpredictable hex string the response must echo.
    nonce: str


@dataclasses.dataclass(frozen=True)
class Response(Message):
    """Guest to host: the answer to a :class:`Challenge`."""

    seq: int
    nonce: str
    health: Health
    components: typing.Tuple[Component, ...] = ()
    monotonic: float = 0.0


@dataclasses.dataclass(frozen=True)
class Report(Message):
    """Guest to host: health changed, without waiting for a challenge."""

    health: Health
    components: typing.Tuple[Component, ...] = ()
    monotonic: float = 0.0


@dataclasses.dataclass(frozen=True)
class Maintenance(Message):
    """Guest to host: expect silence for ``duration`` seconds (0 ends it)."""

    duration: int
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Request(Message):
    """Guest to host: please recover me."""

    action: RecoveryAction
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Bye(Message):
    """Guest to host: the agent leaves on purpose; silence is expected."""

    reason: ByeReason


@dataclasses.dataclass(frozen=True)
class Notice(Message):
    """Host to guest: the platform is about to act on the instance."""

    event: NoticeEvent
    #: Seconds before the operation starts (0: now or unknown).
    deadline: int = 0


@dataclasses.dataclass(frozen=True)
class Ack(Message):
    """Host to guest: the answer to a maintenance window or a request."""

    subject: AckSubject
    accepted: bool
    #: For maintenance: the seconds actually granted after clamping.
    granted: int = 0
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Error(Message):
    """Host to guest: something the guest sent was not accepted."""

    code: ErrorCode
    reason: str = ""
    #: The lowest and highest protocol version the host speaks.
    versions: typing.Optional[typing.Tuple[int, int]] = None


@dataclasses.dataclass(frozen=True)
class Resync:
    """The peer sent 0xFF: it reset its parser and (re)starts a session."""


@dataclasses.dataclass(frozen=True)
class ConnectionClosed:
    """The stream ended."""


Event = typing.Union[Message, Resync, ConnectionClosed]
