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

"""The oslo.messaging side of the bridge: a notification listener in a pool.

Bridges that share a pool share one queue (named after the pool), so each
message goes to one bridge, and the messages a bridge held unacknowledged
when it died go to the others. The listener is made with
``allow_requeue=True``: :class:`Endpoint` answers ``REQUEUE`` for a
message Masakari did not take, and only ``HANDLED`` acknowledges it.
"""

from __future__ import annotations

import logging
import re
import typing

from oslo_config import cfg
import oslo_messaging

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.masakari.delivery import Deliverer
from nova_vm_heartbeat.masakari.delivery import Disposition
from nova_vm_heartbeat.notifications import received

LOG = logging.getLogger(__name__)

#: Only our event types reach :meth:`Endpoint.info`; the pool's queue also
#: carries nova's own notifications, which are acknowledged unread.
EVENT_TYPE_PATTERN = "^(%s)$" % "|".join(
    re.escape(event_type) for event_type in sorted(received.EVENT_TYPES))

_RESULTS = {Disposition.ACK: oslo_messaging.NotificationResult.HANDLED,
            Disposition.REQUEUE: oslo_messaging.NotificationResult.REQUEUE}


class Endpoint:
    """Receives INFO notifications (ours are all INFO)."""

    filter_rule = oslo_messaging.NotificationFilter(
        event_type=EVENT_TYPE_PATTERN)

    def __init__(self, deliverer: Deliverer):
        self._deliverer = deliverer

    def info(self, ctxt: typing.Any, publisher_id: typing.Any,
             event_type: str, payload: typing.Any,
             metadata: typing.Any) -> str:
        try:
            disposition = self._deliverer.handle(event_type, publisher_id,
                                                 payload)
        except Exception:
            # oslo.messaging requeues a message whose endpoint raised, and
            # the same error comes back with it, forever: say it once and
            # let go of it.
            LOG.exception("Could not handle a %(event)s notification from "
                          "%(publisher)s; acknowledged, it will not come "
                          "back", {"event": received.cut(str(event_type)),
                                   "publisher":
                                   received.cut(str(publisher_id))})
            disposition = Disposition.ACK
        return str(_RESULTS[disposition])


class Listener:
    """The transport and the listening server, started and stopped."""

    def __init__(self, conf: cfg.ConfigOpts, endpoint: Endpoint):
        group = conf.masakari_bridge
        self.pool: str = group.pool
        self.targets = [oslo_messaging.Target(topic=topic,
                                              exchange=group.exchange)
                        for topic in group.topics]
        try:
            self._transport = oslo_messaging.get_notification_transport(conf)
        except oslo_messaging.MessagingException as err:
            raise exception.InvalidConfiguration(
                reason="no message bus: %s" % err) from err
        self._server = oslo_messaging.get_notification_listener(
            self._transport, self.targets, [endpoint], executor="threading",
            allow_requeue=True, pool=self.pool)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        """Stop taking messages; the ones in hand are still handled."""
        self._server.stop()

    def wait(self) -> None:
        """Wait for the messages in hand, then disconnect.

        Messages taken from the broker but not handled yet go back to
        the queue when the connection closes.
        """
        self._server.wait()
        self._transport.cleanup()
