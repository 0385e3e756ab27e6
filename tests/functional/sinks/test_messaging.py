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

"""The messaging sink against a real RabbitMQ, outages and restarts included.

A real oslo.messaging notification listener (what Vitrage and the
Masakari bridge use) receives what the sink publishes; a raw AMQP
consumer checks the bytes on the wire. The broker's application is
stopped and started again (``rabbitmqctl stop_app``/``start_app``) to
show that notifications wait on disk and all arrive, in order, after.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import threading
import time
import typing
import uuid

from kombu import connection as amqp_connection
from kombu import entity as amqp_entity
from oslo_config import cfg
import oslo_messaging
import pytest

from nova_vm_heartbeat import conf as heartbeat_conf
from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.sinks import impl_messaging
from tests.functional.fixtures import RabbitMQ
from tests.functional.fixtures import wait_until
from tests import notification_samples as samples
from tests.unit.sinks import helpers

TOPIC = "versioned_notifications"
#: How long the broker stays away in the outage tests, in seconds.
OUTAGE = 3.0
#: Notifications sent during an outage.
COUNT = 20


def make_conf(path: pathlib.Path, url: str,
              **groups: typing.Dict[str, object]) -> cfg.ConfigOpts:
    """A ConfigOpts parsed from a file, as a service has.

    It publishes on nova's exchange, as ``nova-vm-heartbeat-monitor`` does
    (through ``impl_messaging.set_defaults``, which these in-process tests
    do not call: it changes a process-wide default).
    """
    lines = ["[DEFAULT]", "transport_url = %s" % url,
             "control_exchange = %s" % impl_messaging.NOVA_EXCHANGE]
    for group, options in groups.items():
        lines.append("[%s]" % group)
        lines.extend("%s = %s" % item for item in options.items())
    path.write_text("\n".join(lines) + "\n")
    conf = cfg.ConfigOpts()
    heartbeat_conf.register_opts(conf)
    conf(["--config-file", str(path)])
    return conf


def notification(prefix: str, number: int) -> Notification:
    """The sinks' test notification, for this test's instance ``number``."""
    return helpers.notification(
        instance_uuid="%s-%03d" % (prefix, number))


class Endpoint:
    """Keeps the INFO notifications of one test (by instance prefix)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.lock = threading.Lock()
        self.received: typing.List[typing.Dict[str, typing.Any]] = []

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        data = payload.get("nova_object.data", {})
        if not str(data.get("instance_uuid", "")).startswith(self.prefix):
            return
        with self.lock:
            self.received.append({
                "publisher_id": publisher_id, "event_type": event_type,
                "payload": payload, "metadata": metadata})

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def instances(self) -> typing.List[str]:
        with self.lock:
            return [r["payload"]["nova_object.data"]["instance_uuid"]
                    for r in self.received]


@pytest.fixture
def prefix() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def listening(broker: RabbitMQ, path: pathlib.Path,
              endpoint: Endpoint) -> typing.Iterator[Endpoint]:
    """A notification listener on nova's exchange, as a consumer has.

    It consumes from the shared queue ``versioned_notifications.info``
    (no pool), which the notifier itself declares when it publishes: a
    notification sent right after a broker restart, before the listener
    is back, waits there. (A pool's queue is the listener's own and goes
    with the broker's application; but listeners without a pool share the
    messages, so two test sessions on one broker each see only some.)

    It reconnects every 2 s at most after an outage (the default grows
    to 30 s), so the tests measure the sink, not the listener.
    """
    conf = make_conf(path, broker.url,
                     oslo_messaging_rabbit={"rabbit_interval_max": 2})
    transport = oslo_messaging.get_notification_transport(conf)
    server = oslo_messaging.get_notification_listener(
        transport,
        [oslo_messaging.Target(topic=TOPIC,
                               exchange=impl_messaging.NOVA_EXCHANGE)],
        [endpoint], executor="threading")
    server.start()
    try:
        yield endpoint
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


@pytest.fixture
def listener(broker: RabbitMQ, tmp_path: pathlib.Path,
             prefix: str) -> typing.Iterator[Endpoint]:
    with listening(broker, tmp_path / "listener.conf",
                   Endpoint(prefix)) as endpoint:
        yield endpoint


@pytest.fixture
def outbox_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "outbox"


@pytest.fixture
def sink_conf(broker: RabbitMQ, tmp_path: pathlib.Path,
              outbox_dir: pathlib.Path) -> cfg.ConfigOpts:
    return make_conf(tmp_path / "sink.conf", broker.url,
                     heartbeat_sink={"outbox_dir": str(outbox_dir)})


@pytest.fixture
def sink(sink_conf: cfg.ConfigOpts
         ) -> typing.Iterator[impl_messaging.MessagingSink]:
    sink = impl_messaging.MessagingSink(sink_conf)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


def waiting_files(directory: pathlib.Path) -> typing.List[str]:
    return sorted(n for n in os.listdir(directory) if n.endswith(".json"))


class Tap:
    """A raw AMQP consumer bound like a listener: the bytes on the wire."""

    def __init__(self, url: str):
        self.connection = amqp_connection.Connection(
            url.replace("rabbit://", "amqp://"))
        exchange = amqp_entity.Exchange(
            impl_messaging.NOVA_EXCHANGE, type="topic", no_declare=True)
        self.queue = amqp_entity.Queue(
            "nova-vm-heartbeat-tap-%s" % uuid.uuid4().hex, exchange,
            routing_key=TOPIC + ".info", exclusive=True, auto_delete=True,
            channel=self.connection.channel())
        self.queue.declare()

    def bodies(self) -> typing.Iterator[typing.Dict[str, typing.Any]]:
        while True:
            message = self.queue.get(no_ack=True)
            if message is None:
                return
            yield json.loads(message.body)

    def close(self) -> None:
        self.connection.release()


@pytest.fixture
def tap(broker: RabbitMQ, listener: Endpoint) -> typing.Iterator[Tap]:
    # After the listener: it declared nova's exchange.
    tap = Tap(broker.url)
    try:
        yield tap
    finally:
        tap.close()


def test_nova_envelope_and_payload(sink, listener, tap, prefix, outbox_dir):
    sent = notification(prefix, 1)
    sink.send(sent)
    wait_until(lambda: listener.count() == 1, 30, "the listener's message")
    [received] = listener.received
    assert received["publisher_id"] == "nova-compute:compute-1"
    assert received["event_type"] == "instance.heartbeat_lost"
    assert received["payload"] == sent.payload
    assert received["metadata"]["message_id"]
    assert received["metadata"]["timestamp"]

    wire: typing.List[typing.Dict[str, typing.Any]] = []

    def tapped() -> bool:
        wire.extend(tap.bodies())
        return any(prefix in body["oslo.message"] for body in wire)

    wait_until(tapped, 10, "the tap's message")
    [body] = [b for b in wire if prefix in b["oslo.message"]]
    assert body["oslo.version"] == "2.0"
    message = json.loads(body["oslo.message"])
    # The rabbit driver adds _unique_id (to drop duplicates), as it does
    # to nova's own notifications.
    assert set(message) - {"_unique_id"} == {
        "message_id", "publisher_id", "event_type", "priority", "payload",
        "timestamp"}
    assert message["priority"] == "INFO"
    assert message["event_type"] == sent.event_type
    assert message["publisher_id"] == sent.publisher_id
    assert message["payload"] == sent.payload
    wait_until(lambda: sink.depth() == 0, 10, "an empty outbox")
    assert waiting_files(outbox_dir) == []


def report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """Print ``text`` in the test run's output, captured or not."""
    with capsys.disabled():
        print("\n    %s" % text)


def test_outage_keeps_notifications_and_loses_none(
        broker, sink, listener, prefix, outbox_dir, capsys):
    sink.send(notification(prefix, 0))
    wait_until(lambda: listener.count() == 1, 30, "the first message")

    with broker.outage():
        for number in range(1, COUNT + 1):
            sink.send(notification(prefix, number))
        time.sleep(OUTAGE)
        assert len(waiting_files(outbox_dir)) == COUNT
        assert sink.depth() == COUNT
        assert listener.count() == 1
    back = time.monotonic()
    drained = wait_until(lambda: sink.depth() == 0, 60,
                         "the outbox drained")
    wait_until(lambda: listener.count() == COUNT + 1, 60,
               "every notification at the listener")
    received = time.monotonic() - back
    report(capsys, "broker back after a %.0f s outage: it accepted all %d "
           "waiting notifications %.2f s later; the listener had them all "
           "%.2f s later" % (OUTAGE, COUNT, drained, received))
    assert listener.instances() == [
        "%s-%03d" % (prefix, n) for n in range(COUNT + 1)]
    assert waiting_files(outbox_dir) == []


def test_restarted_sink_delivers_what_the_old_one_left(
        broker, sink_conf, listener, prefix, outbox_dir, capsys):
    old = impl_messaging.MessagingSink(sink_conf)
    old.start()
    try:
        with broker.outage():
            for number in range(COUNT):
                old.send(notification(prefix, number))
            time.sleep(1.0)  # a failed delivery attempt or two
            started = time.monotonic()
            old.stop()
            assert time.monotonic() - started < 1.5
            assert len(waiting_files(outbox_dir)) == COUNT
    finally:
        old.stop()

    new = impl_messaging.MessagingSink(sink_conf)
    assert new.depth() == COUNT
    started = time.monotonic()
    new.start()
    try:
        wait_until(lambda: listener.count() == COUNT, 60,
                   "what the old sink left")
        report(capsys, "a new sink delivered the %d notifications the old "
               "one left in %.2f s" % (COUNT, time.monotonic() - started))
        assert listener.instances() == [
            "%s-%03d" % (prefix, n) for n in range(COUNT)]
        wait_until(lambda: new.depth() == 0, 10, "an empty outbox")
        assert waiting_files(outbox_dir) == []
    finally:
        new.stop()


def test_the_wire_carries_the_notification_samples(sink, listener, tap,
                                                   prefix):
    """What nova-compute's samples document is what this sink publishes.

    The samples in doc/notification_samples/ (one per event type) are
    compared, in the Nova tier, with what the driver emits through Nova.
    """
    expected = {name: samples.expected(
        name, instance_uuid="%s-%s" % (prefix, name))
        for name in samples.names()}
    for sample in expected.values():
        sink.send(Notification.from_dict(sample))
    wire: typing.List[typing.Dict[str, typing.Any]] = []

    def tapped() -> bool:
        wire.extend(json.loads(b["oslo.message"]) for b in tap.bodies()
                    if prefix in b["oslo.message"])
        return len(wire) >= len(expected)

    wait_until(tapped, 30, "the samples on the wire")
    for message in wire:
        name = message["payload"]["nova_object.data"]["instance_uuid"][
            len(prefix) + 1:]
        assert {key: message[key] for key in (
            "event_type", "publisher_id", "priority", "payload")} == \
            expected[name]
