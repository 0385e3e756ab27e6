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

"""A real vitrage-graph (vitrage 15.0.1) with the vm_heartbeat datasource.

vitrage-graph runs as Vitrage runs it: its own process, its own workers
(one evaluator, one API worker), a SQLite database made by
``vitrage-dbsync``, and its notification listener on the test RabbitMQ.
The datasource is enabled the way an operator enables it, by name
(``[datasources] types`` and ``path``), next to Vitrage's own
``nova.instance`` datasource. The test reads what vitrage-graph announces on
its notifier topic (alarm activated, deactivated, with the resource it is
on) and the live graph through the API worker's RPC interface
(``get_resources``, ``show_alarm``), which is what vitrage-api calls.

Two limits of Vitrage 15.0.1 in this environment, both outside the
datasource: its topology API reads networkx's ``node_link_data`` under
the key ``links``, which networkx 3.6 renamed (so ``get_topology`` is not
used), and its ``events`` table has a BIGINT primary key that SQLite does
not fill in (vitrage-graph logs each failed write of a graph change and
carries on; Vitrage supports MySQL).
"""

from __future__ import annotations

import json
import pathlib
import shutil
import threading
import typing
import uuid

from oslo_config import cfg
import oslo_messaging
from vitrage.common import utils as vitrage_utils
import vitrage.tests

from tests.functional.consumers.processes import run_once
from tests.functional.consumers.processes import ServiceProcess
from tests.functional.fixtures import wait_until

REPO = pathlib.Path(__file__).resolve().parents[3]
#: Our values file, as the docs tell operators to install it.
VALUES_FILE = REPO / "etc" / "vitrage" / "datasources_values" / (
    "vm_heartbeat.yaml")
#: Vitrage's values of its Nova datasources (its wheel ships them only in
#: its tests).
VITRAGE_VALUES = pathlib.Path(vitrage.tests.__file__).parent / (
    "resources/datasources_values")


class VitrageGraph:
    """vitrage-graph and an RPC client of its API worker."""

    def __init__(self, workdir: pathlib.Path, transport_url: str,
                 topic: str):
        self.workdir = workdir
        self.config = workdir / "vitrage.conf"
        self.log = workdir / "vitrage-graph.log"
        self.rpc_topic = "rpcapiv1-%s" % uuid.uuid4().hex[:12]
        self.notifier_topic = "vitrage.graph-%s" % uuid.uuid4().hex[:12]
        self.topic = topic
        self._transport_url = transport_url
        self.process = ServiceProcess(
            ["vitrage-graph", "--config-file", str(self.config)], self.log)
        self._write_config(transport_url, topic)

    def _write_config(self, transport_url: str, topic: str) -> None:
        values = self.workdir / "datasources_values"
        values.mkdir()
        for name in ("default.yaml", "nova.host.yaml", "nova.instance.yaml"):
            shutil.copy(VITRAGE_VALUES / name, values / name)
        shutil.copy(VALUES_FILE, values / VALUES_FILE.name)
        self.config.write_text("\n".join([
            "[DEFAULT]",
            "transport_url = %s" % transport_url,
            "rpc_topic = %s" % self.rpc_topic,
            # Any notifier enables the graph notifier (no vitrage-notifier
            # runs to act on it).
            "notifiers = nova",
            "[datasources]",
            "types = nova.instance,vm_heartbeat",
            "path = vitrage.datasources,nova_vm_heartbeat.vitrage",
            "notification_topics = %s" % topic,
            "notification_exchange = nova",
            "[entity_graph]",
            "datasources_values_dir = %s" % values,
            "notifier_topic = %s" % self.notifier_topic,
            "[evaluator]",
            "workers = 1",
            "[api]",
            "workers = 1",
            "[database]",
            "connection = sqlite:///%s" % (self.workdir / "vitrage.db"),
            ""]))

    def start(self) -> None:
        run_once(["vitrage-dbsync", "--config-file", str(self.config)])
        self.process.start()
        wait_until(self._listening, 120,
                   "vitrage-graph listening (log: %s)" % self.log)
        # oslo.messaging's RPC client reads its tracing and metrics
        # options from the configuration it is given, but registers them
        # on the global one only: use that.
        conf = cfg.CONF
        self._rpc_transport = oslo_messaging.get_rpc_transport(
            conf, url=self._transport_url)
        self._client = oslo_messaging.get_rpc_client(
            self._rpc_transport,
            oslo_messaging.Target(exchange="vitrage", topic=self.rpc_topic))

    def _listening(self) -> bool:
        self.process.check_running()
        text = self.process.text()
        return "Init Finished" in text and (
            "Listening on %s" % self.topic) in text

    def stop(self) -> None:
        self.process.stop()
        self._rpc_transport.cleanup()

    def show_alarm(self, vitrage_id: str
                   ) -> typing.Optional[typing.Dict[str, typing.Any]]:
        """One alarm vertex of the live graph, as ``GET /v1/alarm/<id>``."""
        text = self._client.call({"is_admin": True}, "show_alarm",
                                 vitrage_id=vitrage_id)
        return None if text is None else dict(json.loads(text))

    def instances(self) -> typing.List[typing.Dict[str, typing.Any]]:
        """The nova.instance vertices, as ``GET /v1/resources``."""
        compressed = self._client.call(
            {"is_admin": True}, "get_resources",
            resource_type="nova.instance", all_tenants=True, query=None)
        data = vitrage_utils.decompress_obj(compressed)
        return list(data["resources"])


class AlarmNotifications:
    """What vitrage-graph announces about alarms on its notifier topic.

    ``vitrage.alarm.activate`` and ``vitrage.alarm.deactivate`` carry the
    alarm vertex and, under ``resource``, the vertex it is on: the output
    vitrage-notifier and its plugins act on.
    """

    def __init__(self, transport_url: str, topic: str):
        self._lock = threading.Lock()
        self.received: typing.List[typing.Tuple[str, typing.Any]] = []
        self._transport = oslo_messaging.get_notification_transport(
            cfg.CONF, url=transport_url)
        self._server = oslo_messaging.get_notification_listener(
            self._transport,
            [oslo_messaging.Target(exchange="vitrage", topic=topic)],
            [self], executor="threading")

    def info(self, ctxt: typing.Any, publisher_id: str, event_type: str,
             payload: typing.Any, metadata: typing.Any) -> None:
        with self._lock:
            self.received.append((event_type, payload))

    def about(self, instance: str, event_type: str
              ) -> typing.List[typing.Dict[str, typing.Any]]:
        with self._lock:
            return [dict(payload) for kind, payload in self.received
                    if kind == event_type
                    and payload.get("instance_id") == instance]

    def start(self) -> AlarmNotifications:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self._server.wait()
        self._transport.cleanup()
