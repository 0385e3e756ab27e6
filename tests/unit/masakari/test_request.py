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

"""What the bridge asks of Masakari, and for which verdicts."""

from __future__ import annotations

import datetime

import pytest

from nova_vm_heartbeat.conf import masakari_bridge
from nova_vm_heartbeat.masakari import request
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications.received import Report

UUID = "8c1b2f4e-49d5-4a0a-9f3b-2b8f0c0a7e11"


def report(kind, fault) -> Report:
    return Report(kind=kind, host="compute-1", instance_uuid=UUID,
                  fault_class=fault, severity=vd.SEVERITIES[fault],
                  episode=1, verdict_id="v",
                  generated_at=datetime.datetime(
                      2026, 11, 21, 19, 30, 5, 123456,
                      tzinfo=datetime.timezone(datetime.timedelta(hours=1))))


DEFAULT = request.Selection.from_names(
    masakari_bridge.DEFAULT_FAULT_CLASSES)
LOST = vd.VerdictKind.HEARTBEAT_LOST


@pytest.mark.parametrize("kind, fault, selected", [
    (LOST, vd.FaultClass.GUEST_HUNG, True),
    (LOST, vd.FaultClass.GUEST_CRASHED, True),
    (LOST, vd.FaultClass.VM_FROZEN, True),
    (vd.VerdictKind.RECOVERY_REQUESTED, vd.FaultClass.GUEST_REQUESTED, True),
    (LOST, vd.FaultClass.AGENT_FAILURE, False),
    (LOST, vd.FaultClass.AGENT_ABSENT, False),
    (vd.VerdictKind.HEALTH_CHECK_FAILED, vd.FaultClass.APP_UNHEALTHY, False),
    (vd.VerdictKind.HEARTBEAT_RESTORED, vd.FaultClass.GUEST_HUNG, False),
])
def test_default_selection(kind, fault, selected):
    assert DEFAULT.selects(report(kind, fault)) is selected


def test_app_unhealthy_is_opt_in():
    selection = request.Selection.from_names(["app_unhealthy"])
    assert selection.selects(report(vd.VerdictKind.HEALTH_CHECK_FAILED,
                                    vd.FaultClass.APP_UNHEALTHY))
    assert not selection.selects(report(LOST, vd.FaultClass.GUEST_HUNG))


def test_the_notification_masakari_recovers():
    note = request.VmNotification.for_report(
        report(LOST, vd.FaultClass.GUEST_HUNG))
    assert note.attrs() == {
        "type": "VM", "hostname": "compute-1",
        # The verdict's time, in UTC, as masakari-monitors sends it.
        "generated_time": "2026-11-21T18:30:05.123456",
        "payload": {"event": "QEMU_GUEST_AGENT_ERROR",
                    "vir_domain_event": "STOPPED_FAILED",
                    "instance_uuid": UUID}}
