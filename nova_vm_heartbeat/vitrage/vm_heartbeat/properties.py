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

"""The fields of a heartbeat alarm, as the driver hands it to the
transformer and as the alarm vertex carries them."""

from __future__ import annotations

import datetime
import typing

from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications.received import Report

INSTANCE_ID = "instance_id"
HOST = "host"
VERDICT = "verdict"
FAULT_CLASS = "fault_class"
SEVERITY = "severity"
REASON = "reason"
VERDICT_ID = "verdict_id"
EPISODE = "episode"
GENERATED_AT = "generated_at"

#: Vitrage's timestamp format (``transformer_base.TIMESTAMP_FORMAT``).
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

#: The alarm's name, by verdict: what Vitrage shows and templates match.
ALARM_NAMES: typing.Dict[vd.VerdictKind, str] = {
    vd.VerdictKind.HEARTBEAT_LOST: "VM heartbeat lost",
    vd.VerdictKind.HEALTH_CHECK_FAILED: "VM health check failed",
    vd.VerdictKind.RECOVERY_REQUESTED: "VM recovery requested",
    vd.VerdictKind.HEARTBEAT_RESTORED: "VM heartbeat restored",
}


def alarm(report: Report) -> typing.Dict[str, typing.Any]:
    """The event the driver gives Vitrage for one verdict."""
    return {
        INSTANCE_ID: report.instance_uuid,
        HOST: report.host,
        VERDICT: report.kind.value,
        FAULT_CLASS: report.fault_class.value,
        SEVERITY: report.severity.value,
        REASON: report.reason,
        VERDICT_ID: report.verdict_id,
        EPISODE: report.episode,
        GENERATED_AT: report.generated_at.strftime(TIMESTAMP_FORMAT),
    }


def is_newer(event: typing.Mapping[str, typing.Any],
             than: typing.Optional[typing.Mapping[str, typing.Any]]) -> bool:
    """Whether ``event`` comes after the cached one (None: nothing yet).

    Messages can be redelivered or overtake each other; an older verdict
    must not bring back an alarm a newer one cleared, nor the same verdict
    update the alarm twice.
    """
    if than is None:
        return True
    if event[VERDICT_ID] == than[VERDICT_ID]:
        return False
    return _order(event) >= _order(than)


def _order(event: typing.Mapping[str, typing.Any]
           ) -> typing.Tuple[int, bool, datetime.datetime]:
    """Episodes in order; within one, its end after everything else."""
    moment = datetime.datetime.strptime(event[GENERATED_AT],
                                        TIMESTAMP_FORMAT)
    ends = event[VERDICT] == vd.VerdictKind.HEARTBEAT_RESTORED.value
    return int(event[EPISODE]), ends, moment
