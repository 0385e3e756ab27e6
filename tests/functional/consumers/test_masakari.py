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

"""The Masakari bridge between a real RabbitMQ and a real masakari-api.

Verdicts are published by the real messaging sink; the bridge runs as its
console script; masakari-api (masakari 22, noauth2, SQLite) stores what
it accepts (each stored notification is one recovery for masakari-engine;
a refused duplicate is none). Each test shows one delivery guarantee: selected
verdicts arrive with the right payload and unselected ones do not; a
Masakari outage delays a notification but does not lose or double it; a
bridge killed after sending and before acknowledging makes Masakari see
the notification twice, refuse the second as a duplicate, and start one
recovery.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import time
import typing
import uuid

import pytest

from nova_vm_heartbeat.monitor.verdicts import FaultClass
from nova_vm_heartbeat.notifications.payload import Notification
from tests.functional.consumers.bridge import BridgeProcess
from tests.functional.consumers.bridge import MAX_VERDICT_AGE
from tests.functional.consumers.bridge import write_config
from tests.functional.consumers.conftest import COMPUTE_HOST
from tests.functional.consumers.masakari_api import MasakariApi
from tests.functional.consumers.publisher import notification
from tests.functional.consumers.publisher import Publisher
from tests.functional.fixtures import RabbitMQ
from tests.functional.fixtures import wait_until

#: How long Masakari stays away in the outage test, in seconds.
OUTAGE = 5.0
DELIVERY_TIMEOUT = 60.0


class Bridges:
    """Starts bridges of one pool; kills what is left at the end."""

    def __init__(self, workdir: pathlib.Path, bus: RabbitMQ,
                 masakari: MasakariApi, topic: str):
        self.workdir = workdir
        self.config = workdir / "bridge.conf"
        self.pool = "bridges-%s" % uuid.uuid4().hex[:8]
        write_config(self.config, bus.url, masakari.url, pool=self.pool,
                     topic=topic)
        self.started: typing.List[BridgeProcess] = []

    def start(self) -> BridgeProcess:
        log = self.workdir / ("bridge-%d.log" % (len(self.started) + 1))
        bridge = BridgeProcess(self.config, log)
        self.started.append(bridge)
        bridge.start()
        return bridge

    def close(self) -> None:
        for bridge in self.started:
            bridge.kill()


@pytest.fixture
def bridges(tmp_path: pathlib.Path, bus: RabbitMQ, masakari: MasakariApi,
            topic: str, queues: typing.List[str]
            ) -> typing.Iterator[Bridges]:
    pool = Bridges(tmp_path, bus, masakari, topic)
    queues.append(pool.pool)
    try:
        yield pool
    finally:
        pool.close()


def recorded(masakari: MasakariApi, instance: str,
             count: int = 1) -> typing.List[typing.Any]:
    """Wait until Masakari has ``count`` notifications for ``instance``."""
    wait_until(lambda: len(masakari.notifications(instance)) >= count,
               DELIVERY_TIMEOUT, "Masakari notification for %s" % instance)
    return masakari.notifications(instance)


def show(record: typing.Any) -> str:
    """One Masakari record as the test report shows it."""
    return json.dumps({key: record[key] for key in (
        "notification_uuid", "type", "generated_time", "status",
        "payload", "source_host_uuid")}, sort_keys=True)


def publish(publisher: Publisher, fault: FaultClass,
            host: str = COMPUTE_HOST, **verdict: typing.Any
            ) -> typing.Tuple[str, Notification, datetime.datetime]:
    instance = verdict.pop("instance", None) or str(uuid.uuid4())
    note, made = notification(instance, fault, host=host, **verdict)
    publisher.publish(note)
    return instance, note, made


def test_selected_verdicts_reach_masakari(bridges, publisher, masakari):
    bridge = bridges.start()
    unselected = [publish(publisher, FaultClass.APP_UNHEALTHY)[0],
                  publish(publisher, FaultClass.AGENT_FAILURE)[0]]
    instance, note, made = publish(publisher, FaultClass.GUEST_HUNG)

    [record] = recorded(masakari, instance)
    print("Masakari record:", show(record))
    assert record.type == "VM"
    # Masakari answers with the host's uuid, not its name.
    assert record.source_host_uuid == masakari.host_uuids[COMPUTE_HOST]
    assert record.payload == {"event": "QEMU_GUEST_AGENT_ERROR",
                              "vir_domain_event": "STOPPED_FAILED",
                              "instance_uuid": instance}
    stored = datetime.datetime.fromisoformat(record.generated_time)
    assert abs(stored - made.replace(tzinfo=None)) < datetime.timedelta(
        seconds=1)
    assert record.status == "new"

    for other in unselected:
        bridge.wait_for("Not asking Masakari to recover instance %s" % other,
                        DELIVERY_TIMEOUT)
        assert masakari.notifications(other) == []
    assert bridge.stop() == 0


def test_host_outside_a_segment_is_reported_once(bridges, publisher,
                                                 masakari):
    bridge = bridges.start()
    instances = [
        publish(publisher, FaultClass.GUEST_CRASHED, host="compute-9")[0],
        publish(publisher, FaultClass.VM_FROZEN, host="compute-9")[0]]
    for instance in instances:  # one at ERROR, the other at DEBUG
        bridge.wait_for("Masakari refused the recovery of instance %s"
                        % instance, DELIVERY_TIMEOUT)
    errors = [line for line in bridge.text().splitlines()
              if " ERROR " in line and "Masakari refused" in line]
    assert len(errors) == 1, errors
    assert "from host compute-9" in errors[0]
    assert "openstack segment host create" in errors[0]
    for instance in instances:
        assert masakari.notifications(instance) == []


def test_masakari_outage_delays_without_loss_or_double(bridges, publisher,
                                                       masakari):
    bridge = bridges.start()
    masakari.stop()
    try:
        instance = publish(publisher, FaultClass.GUEST_HUNG)[0]
        bridge.wait_for("Putting the notification for instance %s "
                        "(verdict" % instance, DELIVERY_TIMEOUT)
        time.sleep(OUTAGE)
    finally:
        masakari.start()
    back = time.monotonic()
    [record] = recorded(masakari, instance)
    delay = time.monotonic() - back
    print("Delivered %.1f s after masakari-api came back: %s"
          % (delay, show(record)))
    time.sleep(3)  # room for a second delivery, which must not come
    assert len(masakari.notifications(instance)) == 1
    assert bridge.text().count(
        "Masakari accepted the recovery of instance %s" % instance) == 1
    requeued = bridge.text().count(
        "Putting the notification for instance %s (verdict" % instance)
    print("Requeued %d times during the outage" % requeued)
    assert bridge.stop() == 0


def test_bridge_killed_before_acknowledging(bridges, publisher,
                                            masakari):
    first = bridges.start()
    warm = publish(publisher, FaultClass.GUEST_HUNG)[0]
    recorded(masakari, warm)  # the bridge has found Masakari

    masakari.freeze()
    try:
        instance = publish(publisher, FaultClass.GUEST_CRASHED)[0]
        first.wait_for("Asking Masakari to recover instance %s" % instance,
                       DELIVERY_TIMEOUT)
        time.sleep(1.0)  # the request is on its way
        first.kill()
    finally:
        masakari.thaw()
    # It died waiting for Masakari's answer: nothing was acknowledged.
    assert ("Masakari accepted the recovery of instance %s" % instance
            not in first.text())
    [record] = recorded(masakari, instance)
    print("Stored from the killed bridge's request:", show(record))

    second = bridges.start()
    second.wait_for("Masakari already has the recovery of instance %s"
                    % instance, DELIVERY_TIMEOUT)
    assert len(masakari.notifications(instance)) == 1
    assert second.stop() == 0


def test_unreadable_message_is_acknowledged_once(bridges, publisher,
                                                 masakari):
    bridge = bridges.start()
    poison = str(uuid.uuid4())
    note, _ = notification(poison, FaultClass.GUEST_HUNG, host=COMPUTE_HOST)
    # Valid ISO 8601, out of range once in UTC: OverflowError when read.
    note.payload["nova_object.data"]["generated_at"] = (
        "0001-01-01T00:00:00+01:00")
    publisher.publish(note)
    instance = publish(publisher, FaultClass.GUEST_HUNG)[0]
    recorded(masakari, instance)  # the queue moves on behind it
    time.sleep(3)  # room for redeliveries, which must not come
    log = bridge.text()
    malformed = [line for line in log.splitlines()
                 if "Ignoring a malformed instance.heartbeat_lost" in line]
    print("Logged:", malformed)
    assert len(malformed) == 1, malformed
    assert "OverflowError" in malformed[0]
    assert "will not come back" in malformed[0]
    assert "Callback raised an exception" not in log
    assert masakari.notifications(poison) == []
    assert bridge.stop() == 0


def test_verdict_older_than_the_cap_restarts_nothing(bridges, publisher,
                                                     masakari):
    bridge = bridges.start()
    old = publish(publisher, FaultClass.GUEST_HUNG,
                  age=MAX_VERDICT_AGE + 60)[0]
    young = publish(publisher, FaultClass.GUEST_HUNG,
                    age=MAX_VERDICT_AGE - 60)[0]
    recorded(masakari, young)
    line = bridge.wait_for("Not asking Masakari to recover instance %s "
                           "(instance.heartbeat_lost, verdict" % old,
                           DELIVERY_TIMEOUT)
    print("Skipped after %.1f s" % line)
    assert "max_verdict_age" in bridge.text()
    assert masakari.notifications(old) == []
    assert bridge.stop() == 0


def test_verdict_restored_during_an_outage_restarts_nothing(
        bridges, publisher, masakari):
    bridge = bridges.start()
    masakari.stop()
    try:
        instance = publish(publisher, FaultClass.GUEST_HUNG, episode=7)[0]
        bridge.wait_for("Putting the notification for instance %s "
                        "(verdict" % instance, DELIVERY_TIMEOUT)
        publish(publisher, FaultClass.GUEST_HUNG, instance=instance,
                episode=7, restored=True)
        bridge.wait_for("heartbeat_restored of the same episode (7)",
                        DELIVERY_TIMEOUT)
    finally:
        masakari.start()
    # The next verdict of the instance, a new episode, is acted on.
    publish(publisher, FaultClass.GUEST_HUNG, instance=instance, episode=8)
    [record] = recorded(masakari, instance)
    print("After the outage Masakari has:", show(record))
    time.sleep(2)
    assert len(masakari.notifications(instance)) == 1
    assert bridge.stop() == 0
