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

"""The sink inside nova-compute: Nova's own versioned notifier.

Verdicts go out through ``nova.rpc``'s versioned notifier, like every
notification nova-compute sends: the same transport, topics
(``[notifications] versioned_notifications_topics``) and switch
(``[notifications] notification_format`` must be ``versioned`` or
``both``, or nothing is sent).

They go through the same durable outbox as the standalone monitor's
messaging sink (:class:`~nova_vm_heartbeat.sinks.outbox.Outbox`, in
``[heartbeat_sink] nova_outbox_dir``): :meth:`NovaSink.send` only takes
the notification, the outbox's writer thread puts it on disk and its
delivery thread hands it to Nova's notifier, oldest first, deleting it
once the notifier returned. Nothing is dropped while Nova's notifier is
blocked (up to ``outbox_max`` waiting), and what was not handed over
when nova-compute stopped is sent after it starts again. Nova's notifier
retries a broker that is away as ``[oslo_messaging_notifications]
retry`` says (by default without end, the outbox then waits), and logs
and drops a notification it cannot send at all.
"""

from __future__ import annotations

import logging

from nova import conf as nova_conf
from nova import context as nova_context
from nova import rpc

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.sinks.base import Sink
from nova_vm_heartbeat.sinks.outbox import Outbox
from nova_vm_heartbeat.virt import notifications

LOG = logging.getLogger(__name__)

#: Longest :meth:`NovaSink.stop` waits for each of its steps, in seconds.
STOP_TIMEOUT = 1.0


def versioned_enabled() -> bool:
    """Whether Nova sends versioned notifications at all."""
    return bool(nova_conf.CONF.notifications.notification_format
                in ("versioned", "both"))


def sending() -> bool:
    """Whether Nova's versioned notifier sends anything at all."""
    notifier = rpc.NOTIFIER
    return versioned_enabled() and notifier is not None \
        and bool(notifier.is_enabled())


class NovaSink(Sink):
    """Emits each verdict with Nova's versioned notifier, from an outbox.

    :param outbox_dir: where notifications wait on disk.
    :param outbox_max: most notifications that wait.
    """

    def __init__(self, outbox_dir: str, outbox_max: int = 10000):
        self.outbox = Outbox(outbox_dir, self._deliver,
                             max_items=outbox_max)
        #: Notifications Nova's configuration kept from being sent.
        self.unsent = 0

    @property
    def emitted(self) -> int:
        """Notifications handed to Nova's notifier (and so sent)."""
        return self.outbox.delivered - self.unsent

    def start(self) -> None:
        # A format or driver that sends nothing is logged at ERROR, with
        # its fix, by the driver's start-up checks (virt/checks.py).
        self.outbox.start()

    def stop(self) -> None:
        """Write what waits to disk and stop; the rest goes after a start."""
        self.outbox.stop(STOP_TIMEOUT)

    def send(self, notification: Notification) -> None:
        self.outbox.put(notification)

    def depth(self) -> int:
        """How many notifications wait for Nova's notifier."""
        return self.outbox.depth()

    def _deliver(self, note: Notification) -> None:
        """Hand one notification to Nova; runs on the outbox's thread."""
        try:
            nova_note = notifications.from_plain(note)
        except ValueError as err:
            raise exception.Undeliverable(event_type=note.event_type,
                                          reason=err) from err
        self._emit(nova_note)

    def _emit(self, nova_note: notifications.InstanceHeartbeatNotification
              ) -> None:
        if not sending():
            # Nova's emit() would return without a word: not sent.
            self.unsent += 1
            LOG.debug("Not sent (notifications are off): %(event)s of "
                      "%(uuid)s", {"event": nova_note.event_type.action,
                                   "uuid": nova_note.payload.instance_uuid})
            return
        nova_note.emit(nova_context.get_admin_context())
