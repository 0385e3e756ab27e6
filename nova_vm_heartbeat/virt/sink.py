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
``both``, or nothing is sent). Nova's notifier may block while the broker
is away, so :meth:`NovaSink.send` only queues; one thread of this sink
emits. The queue is bounded: when it is full the newest notification is
dropped, with an ERROR naming it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import typing

from nova import conf as nova_conf
from nova import context as nova_context
from nova import rpc

from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.runtime.throttle import LogThrottle
from nova_vm_heartbeat.sinks.base import Sink
from nova_vm_heartbeat.virt import notifications

LOG = logging.getLogger(__name__)

#: Most notifications waiting for Nova's notifier.
MAX_QUEUED = 1000
#: Longest :meth:`NovaSink.stop` waits for the thread, in seconds.
STOP_TIMEOUT = 1.0
_STOP = object()


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
    """Emits each verdict with Nova's versioned notifier, on its thread."""

    def __init__(self, max_queued: int = MAX_QUEUED):
        self._queue: queue.Queue[object] = queue.Queue(max_queued)
        self._thread: typing.Optional[threading.Thread] = None
        self._dropped = LogThrottle(60.0)
        #: Notifications Nova's notifier sent.
        self.emitted = 0
        #: Notifications Nova's configuration kept from being sent.
        self.unsent = 0

    def start(self) -> None:
        # A format or driver that sends nothing is logged at ERROR, with
        # its fix, by the driver's start-up checks (virt/checks.py).
        self._thread = threading.Thread(
            target=self._run, daemon=True, name="heartbeat-notifier")
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=STOP_TIMEOUT / 2)
        except queue.Full:
            LOG.warning("The heartbeat notification queue is full at stop; "
                        "%(n)d notifications are dropped",
                        {"n": self._queue.qsize()})
        thread.join(STOP_TIMEOUT)

    def send(self, notification: Notification) -> None:
        try:
            self._queue.put_nowait(notification)
        except queue.Full:
            held = self._dropped.allow(time.monotonic())
            if held is not None:
                LOG.error("The heartbeat notification queue is full (Nova's "
                          "notifier is blocked?): dropped %(event)s of "
                          "%(uuid)s and %(held)d more since the last report",
                          {"event": notification.event_type,
                           "uuid": _instance(notification), "held": held})

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, Notification)
            self._emit(item)

    def _emit(self, note: Notification) -> None:
        if not sending():
            # Nova's emit() would return without a word: not emitted.
            self.unsent += 1
            LOG.debug("Not sent (notifications are off): %(event)s of "
                      "%(uuid)s", {"event": note.event_type,
                                   "uuid": _instance(note)})
            return
        try:
            notifications.from_plain(note).emit(
                nova_context.get_admin_context())
        except Exception:
            LOG.exception("Could not emit %(event)s of %(uuid)s; it is lost",
                          {"event": note.event_type, "uuid": _instance(note)})
            return
        self.emitted += 1


def _instance(note: Notification) -> str:
    data = note.payload.get("nova_object.data", {})
    return str(data.get("instance_uuid", "?"))
