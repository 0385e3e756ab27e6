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

"""Operator-facing exceptions.

Every error that an operator may see in a log or an API answer derives from
:class:`HeartbeatException`. Each subclass states its message once, as a
``msg_fmt`` with named ``%(...)s`` fields, and callers pass the fields as
keyword arguments::

    class ChannelNotFound(HeartbeatException):
        msg_fmt = "No heartbeat channel for instance %(instance)s"

    raise ChannelNotFound(instance=instance.uuid) from err

Errors about bytes received from a guest belong to the protocol family
(``ProtocolError``) in :mod:`nova_vm_heartbeat.protocol`, not here.
"""

from __future__ import annotations

import logging
from typing import ClassVar

LOG = logging.getLogger(__name__)


class HeartbeatException(Exception):
    """Base class for the errors that nova-vm-heartbeat reports to operators.

    :param message: a ready-made message that replaces ``msg_fmt``; use it
        sparingly, the point of ``msg_fmt`` is one wording per error.
    :param kwargs: the fields of ``msg_fmt``; kept in :attr:`kwargs` so
        that callers and tests can read them back.
    """

    #: The message, with ``%(name)s`` fields filled from the keyword
    #: arguments given to the constructor.
    msg_fmt: ClassVar[str] = "An unknown exception occurred."

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        self.kwargs: dict[str, object] = kwargs
        if message is None:
            message = self._format_message(kwargs)
        self.message: str = message
        super().__init__(message)

    @classmethod
    def _format_message(cls, kwargs: dict[str, object]) -> str:
        """Fill ``msg_fmt`` from *kwargs*, never failing.

        A field missing from *kwargs* is a programming error in the caller,
        but raising from inside an exception's constructor would hide the
        original error, so log the mistake and fall back to the template
        followed by the arguments that were given.
        """
        try:
            return cls.msg_fmt % kwargs
        except (KeyError, TypeError, ValueError):
            LOG.exception(
                "Could not format the message of %(cls)s with %(kwargs)r",
                {"cls": cls.__name__, "kwargs": kwargs})
            details = ", ".join(
                "%s=%r" % item for item in sorted(kwargs.items()))
            return "%s (%s)" % (cls.msg_fmt, details)


class SourceUnavailable(HeartbeatException):
    """The instance source cannot tell which instances to monitor now."""

    msg_fmt = "Cannot list the instances to monitor: %(reason)s"


class InvalidConfiguration(HeartbeatException):
    """Options that are each valid, but not together."""

    msg_fmt = "Invalid configuration: %(reason)s"


class SinkNotFound(HeartbeatException):
    """No notification sink of that name is installed."""

    msg_fmt = ("No notification sink named %(name)r; installed sinks: "
               "%(available)s")


class SinkLoadFailed(HeartbeatException):
    """The sink exists but could not be created."""

    msg_fmt = "Could not load the notification sink %(name)r: %(reason)s"


class OutboxUnavailable(HeartbeatException):
    """The outbox directory cannot be created or read."""

    msg_fmt = "Cannot use the outbox directory %(path)s: %(reason)s"


class DeliveryFailed(HeartbeatException):
    """A notification did not reach its destination; try again later."""

    msg_fmt = "Could not deliver %(event_type)s: %(reason)s"


class Undeliverable(HeartbeatException):
    """A notification that no retry will ever deliver."""

    msg_fmt = "Cannot deliver %(event_type)s, ever: %(reason)s"


class EndpointFailed(HeartbeatException):
    """The admin socket or the metrics endpoint cannot be served."""

    msg_fmt = "Cannot serve the %(what)s at %(where)s: %(reason)s"


class AdminUnavailable(HeartbeatException):
    """``nova-vm-heartbeat status`` cannot ask the monitor."""

    msg_fmt = "Cannot ask the monitor at %(path)s: %(reason)s"
