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

"""Which verdicts ask Masakari for a recovery, and what Masakari is sent.

Masakari's engine acts on a VM notification only when its ``event`` and
``vir_domain_event`` are in its allow-list; anything else is stored as
``ignored``. The pair that means "stop and start this instance" without
patching Masakari is the one masakari-monitors' introspective monitor
sends, ``QEMU_GUEST_AGENT_ERROR`` / ``STOPPED_FAILED``. Masakari's schema
allows exactly three payload fields, so the fault class cannot travel
with it; it is in the bridge's log line instead.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing

from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications.received import Report

NOTIFICATION_TYPE = "VM"
EVENT = "QEMU_GUEST_AGENT_ERROR"
VIR_DOMAIN_EVENT = "STOPPED_FAILED"

#: The verdicts that can ask for a recovery: restored ones never do.
RECOVERABLE_KINDS = frozenset((vd.VerdictKind.HEARTBEAT_LOST,
                               vd.VerdictKind.HEALTH_CHECK_FAILED,
                               vd.VerdictKind.RECOVERY_REQUESTED))


@dataclasses.dataclass(frozen=True)
class Selection:
    """The fault classes the operator wants recovered."""

    fault_classes: typing.FrozenSet[vd.FaultClass]

    @classmethod
    def from_names(cls, names: typing.Iterable[str]) -> Selection:
        return cls(frozenset(vd.FaultClass(name) for name in names))

    def selects(self, report: Report) -> bool:
        return (report.kind in RECOVERABLE_KINDS
                and report.fault_class in self.fault_classes)


@dataclasses.dataclass(frozen=True)
class VmNotification:
    """One Masakari VM notification, as ``POST /notifications`` takes it."""

    hostname: str
    generated_time: str
    instance_uuid: str

    @classmethod
    def for_report(cls, report: Report) -> VmNotification:
        """The notification asking Masakari to recover ``report``'s VM.

        The time is the verdict's, so a message delivered twice makes the
        same notification twice, which Masakari refuses as a duplicate.
        """
        return cls(hostname=report.host,
                   generated_time=_naive_utc(report.generated_at),
                   instance_uuid=report.instance_uuid)

    def attrs(self) -> typing.Dict[str, typing.Any]:
        """Keyword arguments of openstacksdk's ``create_notification``."""
        return {"type": NOTIFICATION_TYPE,
                "hostname": self.hostname,
                "generated_time": self.generated_time,
                "payload": {"event": EVENT,
                            "vir_domain_event": VIR_DOMAIN_EVENT,
                            "instance_uuid": self.instance_uuid}}


def _naive_utc(moment: datetime.datetime) -> str:
    """ISO 8601 in UTC without an offset, as masakari-monitors sends it."""
    utc = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return utc.isoformat()
