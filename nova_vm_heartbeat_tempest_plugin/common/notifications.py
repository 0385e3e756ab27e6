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

"""The verdicts a test sees: Nova's versioned notifications, as they come.

A :class:`VerdictListener` listens on the compute hosts' notification
topic with a pool of its own, so it gets a copy of every message and
takes none from Nova's other consumers (the Masakari bridge, Vitrage).
The pool's queue is deleted when the listener stops, so a finished test
leaves nothing that fills up on the broker.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import typing
import uuid

import fixtures
from oslo_config import cfg

#: Our verdicts' event types (nova_vm_heartbeat.monitor's VerdictKind).
LOST = "instance.heartbeat_lost"
RESTORED = "instance.heartbeat_restored"
RECOVERY_REQUESTED = "instance.recovery_requested"
HEALTH_CHECK_FAILED = "instance.health_check_failed"
VERDICTS = frozenset((LOST, RESTORED, RECOVERY_REQUESTED,
                      HEALTH_CHECK_FAILED))


def _messaging() -> typing.Any:
    """oslo_messaging, on oslo.service's native-thread backend.

    oslo.messaging imports oslo.service, which picks eventlet unless a
    backend was chosen first; the listener runs on a native thread.
    """
    from oslo_service import backend

    if backend.get_backend_type() is None:
        backend.init_backend(backend.BackendType.THREADING)
    import oslo_messaging

    return oslo_messaging


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One verdict notification, with the time it reached the test."""

    received_at: float
    event_type: str
    publisher_id: str
    data: typing.Mapping[str, typing.Any]

    @property
    def instance_uuid(self) -> str:
        return str(self.data.get("instance_uuid"))


class VerdictListener(fixtures.Fixture):
    """Collects the verdict notifications while the fixture is in use."""

    def __init__(self, transport_url: str, exchange: str, topic: str):
        super().__init__()
        self._url = transport_url
        self._topic = topic
        self._exchange = exchange
        self.pool = "nova-vm-heartbeat-tempest-%s" % uuid.uuid4().hex[:12]
        self._verdicts: typing.List[Verdict] = []
        self._changed = threading.Condition()

    def _setUp(self) -> None:
        oslo_messaging = _messaging()
        target = oslo_messaging.Target(topic=self._topic,
                                       exchange=self._exchange)
        transport = oslo_messaging.get_notification_transport(
            cfg.ConfigOpts(), url=self._url)
        self.addCleanup(transport.cleanup)
        server = oslo_messaging.get_notification_listener(
            transport, [target], [self], executor="threading",
            pool=self.pool)
        server.start()
        self.addCleanup(self._delete_queue)
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)

    def _delete_queue(self) -> None:
        from kombu import connection

        url = self._url.replace("rabbit://", "amqp://", 1)
        with connection.Connection(  # type: ignore[no-untyped-call]
                url, connect_timeout=10) as conn:
            conn.default_channel.queue_delete(self.pool)

    # The endpoint: oslo.messaging calls it on its own thread.
    def info(self, ctxt: typing.Any, publisher_id: str, event_type: str,
             payload: typing.Any, metadata: typing.Any) -> None:
        if event_type not in VERDICTS or not isinstance(payload, dict):
            return
        data = payload.get("nova_object.data", {})
        with self._changed:
            self._verdicts.append(Verdict(time.time(), event_type,
                                          publisher_id, data))
            self._changed.notify_all()

    def verdicts(self, instance_uuid: str,
                 event_type: typing.Optional[str] = None
                 ) -> typing.List[Verdict]:
        with self._changed:
            return [v for v in self._verdicts
                    if v.instance_uuid == instance_uuid
                    and event_type in (None, v.event_type)]

    def wait_for(self, instance_uuid: str, event_type: str, timeout: float,
                 after: float = 0.0) -> Verdict:
        """The first ``event_type`` about the instance, after ``after``.

        ``after`` is a time.time(); AssertionError after ``timeout`` s.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for verdict in self._verdicts:
                    if (verdict.instance_uuid == instance_uuid
                            and verdict.event_type == event_type
                            and verdict.received_at >= after):
                        return verdict
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "no %s about %s within %d s (seen: %s)" % (
                            event_type, instance_uuid, timeout,
                            [v.event_type for v in self._verdicts
                             if v.instance_uuid == instance_uuid]))
                self._changed.wait(min(left, 5.0))
