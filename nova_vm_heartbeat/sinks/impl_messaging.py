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

"""The sink that publishes versioned notifications with oslo.messaging.

What goes on the wire is what nova-compute sends for its own versioned
notifications: an ``oslo_messaging.Notifier`` with the ``messagingv2``
driver wraps the event type, publisher id, priority and payload in the
standard envelope (with ``message_id`` and ``timestamp``) and publishes it
on ``<topic>.<priority>`` for every configured topic.

Notifications go through an :class:`~nova_vm_heartbeat.sinks.outbox.Outbox`
first: :meth:`MessagingSink.send` only writes a file, and the outbox's
thread publishes and deletes it once the broker has confirmed it. This is
the only module of the project that imports oslo_messaging.
"""

from __future__ import annotations

import typing

from oslo_config import cfg
import oslo_messaging
from oslo_messaging import transport as msg_transport

from nova_vm_heartbeat.conf import sink as sink_conf
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.sinks import base
from nova_vm_heartbeat.sinks import outbox

#: The exchange nova-compute publishes on (nova sets it as the default of
#: ``[DEFAULT] control_exchange``); consumers bind their queues there.
NOVA_EXCHANGE = "nova"

#: Notifier methods, by the priority a notification carries.
_PRIORITIES = frozenset(
    ("audit", "critical", "debug", "error", "info", "sample", "warn"))


def set_defaults() -> None:
    """Publish on nova's exchange unless ``control_exchange`` says otherwise.

    Like nova's own ``rpc.set_defaults``, this changes a process-wide
    default: call it once, before parsing the configuration, in a program
    that is not nova (the standalone monitor). Inside nova-compute the
    default is already ``nova``.
    """
    oslo_messaging.set_transport_defaults(control_exchange=NOVA_EXCHANGE)


class _ConfirmingTransport(
        msg_transport.NotificationTransport):  # type: ignore[misc]
    """The notification transport, remembering the last send failure.

    ``Notifier`` logs and swallows every error (a notification must not
    break its caller), but the outbox must not delete a notification the
    broker did not take. The notifier sends through this wrapper, which
    shares the real transport's driver and keeps the error for
    :meth:`MessagingSink._deliver` to raise.
    """

    def __init__(self, transport: msg_transport.Transport):
        super().__init__(transport._driver)
        self.failure: typing.Optional[BaseException] = None

    def _send_notification(self, target: typing.Any, ctxt: typing.Any,
                           message: typing.Any, version: typing.Any,
                           retry: typing.Any = None) -> None:
        try:
            super()._send_notification(target, ctxt, message, version,
                                       retry=retry)
        except Exception as err:
            self.failure = err
            raise


class MessagingSink(base.Sink):
    """Versioned notifications on the message bus, kept on disk until sent.

    Options: ``[heartbeat_sink] topics``, ``outbox_dir``, ``outbox_max``,
    ``retry``; the transport is oslo.messaging's notification transport
    (``[oslo_messaging_notifications] transport_url``, else ``[DEFAULT]
    transport_url``).
    """

    def __init__(self, conf: cfg.ConfigOpts):
        sink_conf.register_opts(conf)
        group = conf.heartbeat_sink
        self._conf = conf
        self._topics: typing.List[str] = list(group.topics)
        self._retry: int = group.retry
        self._transport: typing.Optional[_ConfirmingTransport] = None
        self._notifiers: typing.Dict[str, oslo_messaging.Notifier] = {}
        self.outbox = outbox.Outbox(group.outbox_dir, self._deliver,
                                    max_items=group.outbox_max)

    def start(self) -> None:
        """Connect (lazily) and deliver, first what a previous run left."""
        if self._transport is None:
            self._transport = self._make_transport()
        self.outbox.start()

    def stop(self) -> None:
        """Stop within about a second.

        Undelivered notifications stay on disk for the next start.
        """
        if self.outbox.stop() and self._transport is not None:
            self._transport.cleanup()
            self._transport = None
            self._notifiers.clear()

    def send(self, notification: Notification) -> None:
        self.outbox.put(notification)

    def depth(self) -> int:
        """How many notifications wait for the broker."""
        return self.outbox.depth()

    def _make_transport(self) -> _ConfirmingTransport:
        try:
            real = oslo_messaging.get_notification_transport(self._conf)
        except oslo_messaging.MessagingException as err:
            raise exception.SinkLoadFailed(name="messaging",
                                           reason=err) from err
        return _ConfirmingTransport(real)

    def _notifier(self, publisher_id: str) -> oslo_messaging.Notifier:
        """The notifier of one publisher id, made once and kept.

        The first is built with the driver and topics; the others are
        prepared from it, which skips loading the driver again.
        """
        notifier = self._notifiers.get(publisher_id)
        if notifier is not None:
            return notifier
        if not self._notifiers:
            assert self._transport is not None, "start() was not called"
            notifier = oslo_messaging.Notifier(
                self._transport, publisher_id=publisher_id,
                driver="messagingv2", topics=self._topics,
                retry=self._retry)
        else:
            first = next(iter(self._notifiers.values()))
            notifier = first.prepare(publisher_id=publisher_id)
        self._notifiers[publisher_id] = notifier
        return notifier

    def _deliver(self, notification: Notification) -> None:
        """Publish one notification; runs on the outbox's thread."""
        priority = notification.priority.lower()
        if priority not in _PRIORITIES:
            raise exception.Undeliverable(
                event_type=notification.event_type,
                reason="unknown priority %r" % notification.priority)
        notifier = self._notifier(notification.publisher_id)
        assert self._transport is not None
        self._transport.failure = None
        getattr(notifier, priority)({}, notification.event_type,
                                    notification.payload)
        failure = self._transport.failure
        if failure is not None:
            raise exception.DeliveryFailed(
                event_type=notification.event_type,
                reason=failure) from failure
