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

"""The vm_heartbeat datasource inside vitrage-graph 15.0.1.

Vitrage's own listener takes the notifications from RabbitMQ and hands
them to the datasource's driver; its processor puts the transformer's
output into the entity graph, next to the instance that Vitrage's Nova
datasource made from a Nova versioned notification. The test sees the
alarm appear on that instance when the heartbeat is lost and go when it
is restored: in what vitrage-graph announces on its notifier topic and in
its live graph, read through its API worker.
"""

from __future__ import annotations

import pathlib
import typing
import uuid

import pytest

from nova_vm_heartbeat.monitor.verdicts import FaultClass
from nova_vm_heartbeat.notifications.payload import Notification
from tests.functional.consumers.conftest import COMPUTE_HOST
from tests.functional.consumers.publisher import notification
from tests.functional.consumers.vitrage_graph import AlarmNotifications
from tests.functional.consumers.vitrage_graph import VitrageGraph
from tests.functional.fixtures import RabbitMQ
from tests.functional.fixtures import wait_until

TIMEOUT = 60.0
ACTIVATE = "vitrage.alarm.activate"
DEACTIVATE = "vitrage.alarm.deactivate"


@pytest.fixture(scope="module")
def vitrage(bus: RabbitMQ, workdir: pathlib.Path, topic: str,
            queues: typing.List[str]
            ) -> typing.Iterator[typing.Tuple[VitrageGraph,
                                              AlarmNotifications]]:
    graph = VitrageGraph(workdir, bus.url, topic)
    queues.extend([graph.rpc_topic, graph.notifier_topic + ".info"])
    alarms = AlarmNotifications(bus.url, graph.notifier_topic).start()
    try:
        graph.start()
        yield graph, alarms
    finally:
        graph.stop()
        alarms.stop()


def nova_instance_update(instance: str) -> Notification:
    """What nova-compute publishes when an instance changes.

    Cut to the fields Vitrage's Nova datasource reads.
    """
    return Notification(
        event_type="instance.update",
        publisher_id="nova-compute:%s" % COMPUTE_HOST,
        payload={"nova_object.name": "InstanceUpdatePayload",
                 "nova_object.namespace": "nova",
                 "nova_object.version": "2.0",
                 "nova_object.data": {
                     "uuid": instance, "state": "active",
                     "host": COMPUTE_HOST, "host_name": "vm-under-test",
                     "display_name": "vm-under-test",
                     "tenant_id": "project-1"}})


def instance_vertex(graph: VitrageGraph, instance: str
                    ) -> typing.Optional[typing.Dict[str, typing.Any]]:
    for vertex in graph.instances():
        if vertex.get("id") == instance:
            return vertex
    return None


def test_alarm_on_the_instance_while_the_heartbeat_is_lost(vitrage,
                                                           publisher):
    graph, alarms = vitrage
    instance = str(uuid.uuid4())
    publisher.publish(nova_instance_update(instance))
    wait_until(lambda: instance_vertex(graph, instance) is not None, TIMEOUT,
               "the instance vertex from Nova's notification")
    vm = instance_vertex(graph, instance)
    assert vm is not None

    lost, _ = notification(instance, FaultClass.GUEST_HUNG)
    publisher.publish(lost)
    wait_until(lambda: bool(alarms.about(instance, ACTIVATE)), TIMEOUT,
               "vitrage-graph activating the heartbeat alarm")
    [alarm] = alarms.about(instance, ACTIVATE)
    print("Vitrage activated:", {key: alarm.get(key) for key in (
        "vitrage_id", "name", "vitrage_category", "vitrage_type",
        "severity", "vitrage_operational_severity", "fault_class",
        "vitrage_resource_id", "vitrage_resource_type")})
    assert alarm["vitrage_category"] == "ALARM"
    assert alarm["vitrage_type"] == "vm_heartbeat"
    assert alarm["name"] == "VM heartbeat lost"
    assert alarm["severity"] == "critical"
    assert alarm["vitrage_operational_severity"] == "CRITICAL"
    assert alarm["fault_class"] == "guest_hung"
    assert alarm["verdict_id"] == lost.payload["nova_object.data"][
        "verdict_id"]
    # On the instance vertex that Vitrage's Nova datasource made.
    assert alarm["vitrage_resource_id"] == vm["vitrage_id"]
    assert alarm["vitrage_resource_type"] == "nova.instance"
    live = graph.show_alarm(alarm["vitrage_id"])
    assert live is not None and not live["vitrage_is_deleted"]
    assert live["vitrage_resource_id"] == vm["vitrage_id"]

    restored, _ = notification(instance, FaultClass.GUEST_HUNG,
                               restored=True)
    publisher.publish(restored)
    wait_until(lambda: bool(alarms.about(instance, DEACTIVATE)), TIMEOUT,
               "vitrage-graph deactivating the heartbeat alarm")
    [cleared] = alarms.about(instance, DEACTIVATE)
    assert cleared["vitrage_id"] == alarm["vitrage_id"]
    live = graph.show_alarm(alarm["vitrage_id"])
    print("Vitrage alarm after restored:", {key: (live or {}).get(key)
          for key in ("vitrage_id", "vitrage_is_deleted", "state")})
    assert live is not None and live["vitrage_is_deleted"] is True
    assert instance_vertex(graph, instance) is not None
