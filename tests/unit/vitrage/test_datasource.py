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

"""The vm_heartbeat driver and transformer, on vitrage 15.0.1's bases.

The functional tier runs them inside vitrage-graph; here each verdict is
taken through the driver and the transformer by hand, to pin down what
the graph receives.
"""

from __future__ import annotations

import datetime
import typing

import pytest

# tools/test.sh installs vitrage (openstack-requirements.txt); a bare
# "tox -e py3" does not, and these tests need its base classes.
pytest.importorskip("vitrage", reason="vitrage 15.0.1 is not installed "
                    "(openstack-requirements.txt)")

from nova_vm_heartbeat.monitor import verdicts as vd  # noqa: E402
from nova_vm_heartbeat.notifications import payload  # noqa: E402
from nova_vm_heartbeat.vitrage import vm_heartbeat  # noqa: E402
from nova_vm_heartbeat.vitrage.vm_heartbeat import driver as vdriver  # noqa
from nova_vm_heartbeat.vitrage.vm_heartbeat.transformer import (  # noqa
    VmHeartbeatTransformer)

UUID = "8c1b2f4e-49d5-4a0a-9f3b-2b8f0c0a7e11"
T0 = datetime.datetime(2026, 11, 21, 18, 0, 0, tzinfo=datetime.timezone.utc)


def verdict(kind=vd.VerdictKind.HEARTBEAT_LOST,
            fault=vd.FaultClass.GUEST_HUNG, episode=1, seconds=0,
            verdict_id=None) -> payload.Notification:
    severity = (vd.Severity.OK if kind is vd.VerdictKind.HEARTBEAT_RESTORED
                else vd.SEVERITIES[fault])
    made = T0 + datetime.timedelta(seconds=seconds)
    return payload.build(
        vd.Verdict(kind=kind, fault_class=fault, severity=severity,
                   episode=episode, reason="why"),
        payload.Identity(UUID, "compute-1"), "FAILED", made,
        verdict_id or "v-%s-%d-%d" % (kind.value, episode, seconds))


@pytest.fixture
def driver() -> vdriver.VmHeartbeatDriver:
    return vdriver.VmHeartbeatDriver()


def enrich(driver: vdriver.VmHeartbeatDriver, note: payload.Notification
           ) -> typing.Optional[typing.Dict[str, typing.Any]]:
    return driver.enrich_event(dict(note.payload), note.event_type)


def test_options_name_the_classes():
    names = {opt.name: opt.default for opt in vm_heartbeat.OPTS}
    assert names["update_method"] == "push"
    assert names["driver"].endswith("driver.VmHeartbeatDriver")
    assert names["transformer"].endswith(
        "transformer.VmHeartbeatTransformer")


def test_event_types_are_ours(driver):
    assert driver.get_event_types() == sorted(
        kind.value for kind in vd.VerdictKind)
    assert driver.get_all("init_snapshot") == []


def test_lost_becomes_an_alarm_on_the_instance(driver):
    event = enrich(driver, verdict())
    assert event is not None
    wrapper = VmHeartbeatTransformer({}).transform(event)
    vertex = wrapper.vertex
    assert vertex["vitrage_category"] == "ALARM"
    assert vertex["vitrage_type"] == "vm_heartbeat"
    assert vertex["name"] == "VM heartbeat lost"
    assert vertex["severity"] == "critical"
    assert vertex["fault_class"] == "guest_hung"
    assert vertex["state"] == "Active"
    assert wrapper.action == "update_entity"
    [neighbor] = wrapper.neighbors
    assert neighbor.vertex["vitrage_type"] == "nova.instance"
    assert neighbor.vertex["id"] == UUID
    assert neighbor.edge.label == "on"
    assert neighbor.edge.source_id == vertex.vertex_id


def test_restored_deletes_the_same_alarm(driver):
    transformer = VmHeartbeatTransformer({})
    raised = transformer.transform(enrich(driver, verdict()))
    cleared = transformer.transform(enrich(driver, verdict(
        vd.VerdictKind.HEARTBEAT_RESTORED, seconds=5)))
    assert cleared.action == "delete_entity"
    assert cleared.vertex.vertex_id == raised.vertex.vertex_id


def test_a_new_verdict_updates_the_alarm(driver):
    transformer = VmHeartbeatTransformer({})
    first = transformer.transform(enrich(driver, verdict()))
    second = transformer.transform(enrich(driver, verdict(
        vd.VerdictKind.HEARTBEAT_LOST, vd.FaultClass.GUEST_CRASHED,
        episode=2, seconds=60)))
    assert second.vertex.vertex_id == first.vertex.vertex_id
    assert second.vertex["fault_class"] == "guest_crashed"
    assert second.action == "update_entity"


def test_duplicates_and_older_verdicts_change_nothing(driver):
    lost = verdict(episode=2, seconds=10)
    assert enrich(driver, lost) is not None
    assert enrich(driver, lost) is None                      # redelivered
    assert enrich(driver, verdict(episode=1, seconds=0)) is None  # older
    restored = verdict(vd.VerdictKind.HEARTBEAT_RESTORED, episode=2,
                       seconds=10)
    assert enrich(driver, restored) is not None
    # The end of an episode is not undone by its own loss arriving late.
    assert enrich(driver, verdict(episode=2, seconds=10,
                                  verdict_id="late")) is None


def test_restored_without_a_known_alarm_still_clears(driver):
    """A restored verdict is passed on even with nothing cached.

    After vitrage-graph restarts, the driver's cache is empty but the
    graph (restored from its snapshot) may hold the alarm.
    """
    assert enrich(driver, verdict(vd.VerdictKind.HEARTBEAT_RESTORED))


def test_malformed_payload_is_ignored(driver, caplog):
    note = verdict()
    note.payload["nova_object.data"]["fault_class"] = "bored"
    assert enrich(driver, note) is None
    assert "malformed" in caplog.text
