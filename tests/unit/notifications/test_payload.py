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

"""Verdicts as Nova-style versioned notifications."""

from __future__ import annotations

import datetime
import json

from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications import payload

IDENTITY = payload.Identity("0c4e9f33-8d5f-4a61-9a5f-0d4a7c7f6b11",
                            "compute-1", "web-1")
WHEN = datetime.datetime(2026, 11, 21, 17, 4, 5, 123456,
                         tzinfo=datetime.timezone(datetime.timedelta(
                             hours=1)))


def _lost(**fields: object) -> vd.Verdict:
    values = dict(kind=vd.VerdictKind.HEARTBEAT_LOST,
                  fault_class=vd.FaultClass.GUEST_HUNG,
                  severity=vd.Severity.CRITICAL, episode=3,
                  reason="no channel answers", silent_for=3.25, missed=3,
                  channels=("heartbeat", "qga"))
    values.update(fields)
    return vd.Verdict(**values)  # type: ignore[arg-type]


def test_envelope() -> None:
    note = payload.build(_lost(), IDENTITY, "failed", WHEN, "v-1")
    assert note.event_type == "instance.heartbeat_lost"
    assert note.publisher_id == "nova-compute:compute-1"
    assert note.priority == "INFO"
    assert {k: v for k, v in note.payload.items()
            if k != "nova_object.data"} == {
        "nova_object.name": "InstanceHeartbeatPayload",
        "nova_object.namespace": "nova",
        "nova_object.version": "1.1"}


def test_payload_fields() -> None:
    data = payload.build(_lost(), IDENTITY, "failed", WHEN,
                         "v-1").payload["nova_object.data"]
    assert data == {
        "instance_uuid": IDENTITY.instance_uuid,
        "display_name": "web-1", "host": "compute-1", "verdict_id": "v-1",
        "episode": 3, "fault_class": "guest_hung", "severity": "critical",
        "state": "failed", "reason": "no channel answers",
        "silent_for": 3.25, "missed_heartbeats": 3,
        "channels": ["heartbeat", "qga"], "failed_components": [],
        "requested_action": None, "suppressed": 0,
        "generated_at": "2026-11-21T16:04:05.123456Z"}


def test_failed_components_are_nested_objects() -> None:
    verdict = _lost(kind=vd.VerdictKind.HEALTH_CHECK_FAILED,
                    fault_class=vd.FaultClass.APP_UNHEALTHY,
                    components=(vd.FailedComponent("db", "timeout", 9),))
    data = payload.build(verdict, IDENTITY, "unhealthy", WHEN,
                         "v-2").payload["nova_object.data"]
    assert data["failed_components"] == [{
        "nova_object.name": "HeartbeatComponentPayload",
        "nova_object.namespace": "nova",
        "nova_object.version": "1.0",
        "nova_object.data": {"name": "db", "reason": "timeout",
                             "progress": 9}}]


def test_round_trip_through_json() -> None:
    note = payload.build(_lost(), IDENTITY, "failed", WHEN, "v-3")
    again = payload.Notification.from_dict(
        json.loads(json.dumps(note.to_dict())))
    assert again == note
