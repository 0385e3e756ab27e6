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

"""What the bridge does with one message, and when it lets go of it.

A message is acknowledged only when nothing more can come of it: Masakari
accepted the notification or answered that it has it already (a
duplicate, a host in maintenance), Masakari refused it for good (400), the
verdict is not one the operator selected or no longer current
(:mod:`.freshness`), or the message cannot be read (whatever the error:
put back, it would come back forever with it). Otherwise (Masakari
unreachable, 5xx) the message goes back to the queue after a few
attempts, for this bridge or another one in the pool.
"""

from __future__ import annotations

import enum
import logging
import threading
import typing

from nova_vm_heartbeat.masakari import client as mc
from nova_vm_heartbeat.masakari.freshness import Freshness
from nova_vm_heartbeat.masakari.gate import RetryGate
from nova_vm_heartbeat.masakari.request import Selection
from nova_vm_heartbeat.masakari.request import VmNotification
from nova_vm_heartbeat.notifications import received

LOG = logging.getLogger(__name__)


class Disposition(str, enum.Enum):
    """What becomes of a message."""

    ACK = "ack"
    REQUEUE = "requeue"


class Sender(typing.Protocol):
    """What the deliverer needs of :class:`~.client.MasakariClient`."""

    def send(self, notification: VmNotification) -> mc.Answer:
        ...


class Deliverer:
    """Turns one received notification into at most one Masakari one."""

    def __init__(self, client: Sender, selection: Selection,
                 gate: RetryGate, attempts: int, freshness: Freshness):
        self._client = client
        self._selection = selection
        self._gate = gate
        self._attempts = attempts
        self._freshness = freshness
        self._refusals = RefusalLog()

    def handle(self, event_type: str, publisher_id: typing.Any,
               payload: typing.Any) -> Disposition:
        try:
            report = received.parse(event_type, payload, publisher_id)
        except received.MalformedNotification as err:
            LOG.warning("%(err)s; acknowledged, it will not come back",
                        {"err": err})
            return Disposition.ACK
        if report.restored:
            self._freshness.restored(report)
            LOG.debug("Nothing to ask of Masakari for instance %(uuid)s: "
                      "%(kind)s ends episode %(episode)d", _fields(report))
            return Disposition.ACK
        if not self._selection.selects(report):
            LOG.info("Not asking Masakari to recover instance %(uuid)s: "
                     "%(kind)s with fault class %(fault)s is not selected "
                     "by [masakari_bridge] fault_classes",
                     _fields(report))
            return Disposition.ACK
        return self._deliver(report)

    def _deliver(self, report: received.Report) -> Disposition:
        notification = VmNotification.for_report(report)
        for attempt in range(1, self._attempts + 1):
            if self._stale(report):
                return Disposition.ACK
            answer = self._attempt(report, notification, attempt)
            if answer is None:
                break
            if answer.final:
                self._log_answer(report, answer)
                return Disposition.ACK
        LOG.warning("Putting the notification for instance %(uuid)s "
                    "(verdict %(verdict)s) back on the queue; it is sent "
                    "again when Masakari answers", _fields(report))
        return Disposition.REQUEUE

    def _stale(self, report: received.Report) -> bool:
        """Whether the verdict is no longer current; logs why."""
        why = self._freshness.why_stale(report)
        if why is not None:
            LOG.info("Not asking Masakari to recover instance %(uuid)s "
                     "(%(kind)s, verdict %(verdict)s): it is no longer "
                     "current: %(why)s", dict(_fields(report), why=why))
        return why is not None

    def _attempt(self, report: received.Report,
                 notification: VmNotification,
                 attempt: int) -> typing.Optional[mc.Answer]:
        """One attempt through the gate; None when the bridge stops."""
        if not self._gate.enter():
            return None
        answer = mc.Answer(mc.Outcome.UNAVAILABLE, detail="interrupted")
        try:
            LOG.info("Asking Masakari to recover instance %(uuid)s on host "
                     "%(host)s (%(kind)s, %(fault)s, verdict %(verdict)s), "
                     "attempt %(attempt)d of %(attempts)d",
                     dict(_fields(report), attempt=attempt,
                          attempts=self._attempts))
            answer = self._client.send(notification)
        finally:
            delay = self._gate.leave(reached=answer.final)
        if not answer.final:
            LOG.warning("Masakari did not take the notification for "
                        "instance %(uuid)s: %(status)s%(detail)s; "
                        "%(hint)s. Next attempt in %(delay)s s",
                        dict(_fields(report),
                             status=("HTTP %d: " % answer.status
                                     if answer.status else ""),
                             detail=answer.detail, hint=answer.hint or
                             "Masakari reported an error",
                             delay="%.1f" % delay if delay else "0"))
        return answer

    def _log_answer(self, report: received.Report,
                    answer: mc.Answer) -> None:
        fields = dict(_fields(report), detail=answer.detail,
                      notification=answer.notification_uuid,
                      hint=answer.hint)
        if answer.outcome is mc.Outcome.REJECTED:
            self._refusals.refused(report.host, fields)
            return
        self._refusals.accepted(report.host)
        if answer.outcome is mc.Outcome.ACCEPTED:
            LOG.info("Masakari accepted the recovery of instance %(uuid)s "
                     "on host %(host)s (verdict %(verdict)s): notification "
                     "%(notification)s", fields)
        elif answer.outcome is mc.Outcome.DUPLICATE:
            LOG.info("Masakari already has the recovery of instance "
                     "%(uuid)s (verdict %(verdict)s): %(detail)s", fields)
        else:
            LOG.warning("Masakari ignores the recovery of instance "
                        "%(uuid)s: %(detail)s", fields)


class RefusalLog:
    """Says once per host that Masakari refuses its notifications.

    Every notification of a host that is not in a failover segment gets
    the same 400; the operator needs to read it once, with the fix, not
    once per instance. After an accepted notification from that host, a
    new refusal is reported again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hosts: typing.Set[str] = set()

    def refused(self, host: str, fields: typing.Dict[str, typing.Any]
                ) -> None:
        with self._lock:
            first = host not in self._hosts
            self._hosts.add(host)
        if first:
            LOG.error("Masakari refused the recovery of instance %(uuid)s "
                      "from host %(host)s: %(detail)s. To fix: %(hint)s. "
                      "Notifications of this host are dropped until then; "
                      "further refusals are logged at DEBUG", fields)
        else:
            LOG.debug("Masakari refused the recovery of instance %(uuid)s "
                      "from host %(host)s: %(detail)s", fields)

    def accepted(self, host: str) -> None:
        with self._lock:
            self._hosts.discard(host)


def _fields(report: received.Report) -> typing.Dict[str, typing.Any]:
    return {"uuid": report.instance_uuid, "host": report.host,
            "kind": report.kind.value, "fault": report.fault_class.value,
            "verdict": report.verdict_id, "episode": report.episode}
