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

"""The sink that writes one log line per notification.

For a host without a message bus, and for trying the monitor out. Every
field comes from the notification, and some from the guest (a failed
component's reason), so each is escaped and truncated before it is
logged: a guest cannot forge log lines or fill the log.
"""

from __future__ import annotations

import logging
import typing

from oslo_config import cfg

from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.sinks import base

LOG = logging.getLogger(__name__)

#: Longest field logged, in characters, before the escaping.
MAX_FIELD_CHARS = 128


def _escape_char(char: str) -> str:
    if char.isprintable() and char != "\\":
        return char
    return char.encode("unicode_escape").decode("ascii")


def escape(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """``value`` as one printable line.

    Backslashes and unprintable characters (line breaks, escape sequences)
    are written as Python escapes; text longer than ``limit`` characters
    is cut and ends with ``...``. None is ``-``.
    """
    text = "-" if value is None else str(value)
    escaped = "".join(_escape_char(char) for char in text[:limit])
    return escaped + "..." if len(text) > limit else escaped


def _data(notification: Notification) -> typing.Dict[str, typing.Any]:
    data = notification.payload.get("nova_object.data")
    return data if isinstance(data, dict) else {}


class LogSink(base.Sink):
    """Logs each notification at INFO and delivers it nowhere else."""

    def __init__(self, conf: cfg.ConfigOpts):
        self.conf = conf

    def send(self, notification: Notification) -> None:
        data = _data(notification)
        LOG.info("%(event_type)s: instance %(instance)s, fault class "
                 "%(fault_class)s, severity %(severity)s, reason "
                 "\"%(reason)s\"",
                 {"event_type": escape(notification.event_type),
                  "instance": escape(data.get("instance_uuid")),
                  "fault_class": escape(data.get("fault_class")),
                  "severity": escape(data.get("severity")),
                  "reason": escape(data.get("reason"))})
