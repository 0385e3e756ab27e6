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

"""The messaging sink over oslo.messaging's in-memory ``fake`` driver.

The same behaviour against a real RabbitMQ, outages included, is in
``tests/functional/sinks``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import threading
import typing

from oslo_config import cfg
import oslo_messaging
import pytest

from nova_vm_heartbeat import conf as heartbeat_conf
from nova_vm_heartbeat.sinks import impl_messaging
from nova_vm_heartbeat.sinks import outbox
from tests.unit.sinks.helpers import notification
from tests.unit.sinks.helpers import wait_until


def make_conf(tmp_path: pathlib.Path, url: str = "fake:/",
              **sink_options: typing.Any) -> cfg.ConfigOpts:
    """A parsed configuration, the transport URL in its file.

    oslo.messaging registers ``transport_url`` itself, later, and then
    reads it from the file.
    """
    path = tmp_path / "test.conf"
    path.write_text("[DEFAULT]\ntransport_url = %s\n" % url)
    conf = cfg.ConfigOpts()
    heartbeat_conf.register_opts(conf)
    conf(["--config-file", str(path)])
    conf.set_override("outbox_dir", str(tmp_path / "outbox"),
                      group="heartbeat_sink")
    for name, value in sink_options.items():
        conf.set_override(name, value, group="heartbeat_sink")
    return conf


class Endpoint:
    """Collects INFO notifications, as Vitrage's endpoint does."""

    def __init__(self) -> None:
        self.received: typing.List[typing.Dict[str, typing.Any]] = []
        self.lock = threading.Lock()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self.lock:
            self.received.append({
                "publisher_id": publisher_id, "event_type": event_type,
                "payload": payload, "metadata": metadata})


@pytest.fixture
def sink(tmp_path) -> typing.Iterator[impl_messaging.MessagingSink]:
    sink = impl_messaging.MessagingSink(make_conf(tmp_path))
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def endpoint(sink) -> typing.Iterator[Endpoint]:
    endpoint = Endpoint()
    # The fake driver's queues live in the transport: listen on the sink's.
    listener = oslo_messaging.get_notification_listener(
        sink._transport,
        [oslo_messaging.Target(topic="versioned_notifications")],
        [endpoint], executor="threading")
    listener.start()
    yield endpoint
    listener.stop()
    listener.wait()


def test_publishes_the_versioned_envelope(sink, endpoint):
    sent = notification(1)
    sink.send(sent)
    wait_until(lambda: len(endpoint.received) == 1)
    [received] = endpoint.received
    assert received["publisher_id"] == "nova-compute:compute-1"
    assert received["event_type"] == "instance.heartbeat_lost"
    assert received["payload"] == sent.payload
    assert received["metadata"]["message_id"]
    assert received["metadata"]["timestamp"]
    wait_until(lambda: sink.depth() == 0)


def test_each_publisher_keeps_its_id(sink, endpoint):
    for host in ("compute-1", "compute-2", "compute-1"):
        sink.send(dataclasses.replace(
            notification(1), publisher_id="nova-compute:" + host))
    wait_until(lambda: len(endpoint.received) == 3)
    assert [r["publisher_id"] for r in endpoint.received] == [
        "nova-compute:compute-1", "nova-compute:compute-2",
        "nova-compute:compute-1"]


def test_unknown_priority_is_set_aside(sink, endpoint, tmp_path):
    sink.send(dataclasses.replace(notification(1), priority="LOUD"))
    sink.send(notification(2))
    wait_until(lambda: len(endpoint.received) == 1)
    assert os.listdir(tmp_path / "outbox") == [
        "00000000000000000001.json.bad"]


def test_broker_failure_keeps_the_notification(tmp_path, caplog):
    # Nothing listens on port 1: the connection is refused at once.
    sink = impl_messaging.MessagingSink(make_conf(
        tmp_path, url="rabbit://guest:guest@127.0.0.1:1/"))
    with caplog.at_level(logging.WARNING, logger=outbox.__name__):
        sink.start()
        try:
            sink.send(notification(1))
            wait_until(lambda: "Could not deliver" in caplog.text)
            assert sink.depth() == 1
        finally:
            sink.stop()
    assert os.listdir(tmp_path / "outbox") == ["00000000000000000001.json"]
    assert "instance.heartbeat_lost for instance instance-1" in caplog.text


def test_configuration_is_read(tmp_path):
    sink = impl_messaging.MessagingSink(make_conf(
        tmp_path, outbox_max=7, topics=["a", "b"], retry=2))
    assert sink.outbox.max_items == 7
    assert sink.outbox.directory == str(tmp_path / "outbox")
    assert sink._topics == ["a", "b"]
    assert sink._retry == 2


def test_registers_its_own_options(tmp_path):
    conf = cfg.ConfigOpts()
    conf([])
    sink = impl_messaging.MessagingSink(conf)
    assert sink.outbox.directory == "/var/lib/nova-vm-heartbeat/outbox"
    assert sink.outbox.max_items == 10000


def test_stop_before_start(tmp_path):
    impl_messaging.MessagingSink(make_conf(tmp_path)).stop()
