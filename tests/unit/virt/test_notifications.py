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

"""Our Nova notification classes: pinned, and equal to the samples.

Each sample in ``doc/notification_samples/`` is rebuilt twice from its own
values: by the plain builder the standalone monitor's messaging sink sends
(:mod:`nova_vm_heartbeat.notifications.payload`), and through the Nova
classes nova-compute emits. Both must give the sample back exactly, so
the two paths put the same JSON on the wire.
"""

from __future__ import annotations

import datetime
import typing

from oslo_versionedobjects import fixture
import pytest

from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications import payload
from nova_vm_heartbeat.virt import notifications
from tests import notification_samples as samples

#: Change a class, bump its version, then update its hash here.
EXPECTED_HASHES = {
    "HeartbeatComponentPayload": "1.0-a6e8c2887a6430ace30cccd9a179aee0",
    "HeartbeatEventType": "1.0-fc74c858b183e53fb906781be9b997ee",
    "InstanceHeartbeatNotification": "1.0-a73147b93b520ff0061865849d3dfa56",
    "InstanceHeartbeatPayload": "1.1-0f268855e837795904e7f7167d02b46c",
}


def test_hashes_are_pinned() -> None:
    checker = fixture.ObjectVersionChecker(
        obj_classes={c.__name__: [c] for c in notifications.CLASSES})
    expected, actual = checker.test_hashes(EXPECTED_HASHES)
    assert expected == actual, (
        "A notification class changed: bump its VERSION, and the payload "
        "version in notifications/payload.py with it")


def test_every_event_type_has_a_sample() -> None:
    assert samples.names() == sorted(
        samples.name_of(kind.value) for kind in vd.VerdictKind)


def _plain_from_sample(sample: typing.Dict[str, typing.Any]
                       ) -> payload.Notification:
    """Build, with the standalone monitor's builder, what the sample says."""
    data = sample["payload"]["nova_object.data"]
    verdict = vd.Verdict(
        kind=vd.VerdictKind(sample["event_type"]),
        fault_class=vd.FaultClass(data["fault_class"]),
        severity=vd.Severity(data["severity"]), episode=data["episode"],
        reason=data["reason"], silent_for=data["silent_for"],
        missed=data["missed_heartbeats"], channels=tuple(data["channels"]),
        components=tuple(
            vd.FailedComponent(**c["nova_object.data"])
            for c in data["failed_components"]),
        requested_action=data["requested_action"],
        suppressed=data["suppressed"])
    identity = payload.Identity(data["instance_uuid"], data["host"],
                                data["display_name"])
    generated_at = datetime.datetime.fromisoformat(
        data["generated_at"].rstrip("Z")).replace(
            tzinfo=datetime.timezone.utc)
    return payload.build(verdict, identity, data["state"], generated_at,
                         data["verdict_id"])


@pytest.mark.parametrize("name", samples.names())
def test_the_standalone_builder_gives_the_sample(name: str) -> None:
    sample = samples.load(name)
    assert _plain_from_sample(sample).to_dict() == sample


@pytest.mark.parametrize("name", samples.names())
def test_the_nova_classes_give_the_sample(name: str) -> None:
    sample = samples.load(name)
    note = notifications.from_plain(_plain_from_sample(sample))
    note.payload.obj_reset_changes(recursive=True)
    assert note.payload.obj_to_primitive() == sample["payload"]
    assert note.event_type.to_notification_event_type_field() == \
        sample["event_type"]
    assert "%s:%s" % (note.publisher.source, note.publisher.host) == \
        sample["publisher_id"]
    assert note.priority.upper() == sample["priority"]


def test_a_payload_that_does_not_fit_is_refused() -> None:
    sample = samples.load("instance-heartbeat_lost")
    broken = dict(sample["payload"])
    broken["nova_object.data"] = dict(broken["nova_object.data"],
                                      fault_class="gremlins")
    with pytest.raises(ValueError):
        notifications.payload_from(broken)
    missing = dict(sample["payload"])
    missing["nova_object.data"] = {
        k: v for k, v in sample["payload"]["nova_object.data"].items()
        if k != "episode"}
    with pytest.raises(ValueError, match="episode"):
        notifications.payload_from(missing)


def test_an_unknown_event_type_is_refused() -> None:
    note = _plain_from_sample(samples.load("instance-heartbeat_lost"))
    with pytest.raises(ValueError):
        notifications.from_plain(payload.Notification(
            "instance.heartbeat_maybe", note.publisher_id, note.payload))
