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

"""Fixtures of the consumer tests: RabbitMQ, masakari-api, the publisher.

The consumers import oslo_messaging: native threads first, as every
program of the project does.
"""

from __future__ import annotations

import pathlib
import typing
import uuid

from kombu import connection as amqp_connection
import pytest

from nova_vm_heartbeat import cmd

cmd.use_native_threads()

from tests.functional.consumers.cloud import ComputeCloud  # noqa: E402
from tests.functional.consumers import masakari_api  # noqa: E402
from tests.functional.consumers.publisher import Publisher  # noqa: E402
from tests.functional.fixtures import RabbitMQ  # noqa: E402

#: The compute host the tests' verdicts come from, a Masakari host.
COMPUTE_HOST = "compute-1"


@pytest.fixture(scope="module")
def bus(rabbitmq: RabbitMQ) -> typing.Iterator[RabbitMQ]:
    """The broker, held for the whole module (no outage by others)."""
    with rabbitmq.using():
        yield rabbitmq


@pytest.fixture(scope="module")
def queues(bus: RabbitMQ) -> typing.Iterator[typing.List[str]]:
    """Names of the queues the module makes; deleted when it ends.

    They have names of their own (per module), so the broker of a
    developer who runs the tests often would otherwise collect them.
    """
    names: typing.List[str] = []
    yield names
    url = bus.url.replace("rabbit://", "amqp://", 1)
    with amqp_connection.Connection(url) as connection:
        channel = connection.channel()
        for name in names:
            channel.queue_delete(name)


@pytest.fixture(scope="module")
def topic(queues: typing.List[str]) -> str:
    """A topic of this module's own, so no other test's verdicts mix in."""
    name = "consumer-tests-%s" % uuid.uuid4().hex[:12]
    queues.append(name + ".info")
    return name


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("consumers")


@pytest.fixture(scope="module")
def cloud() -> typing.Iterator[ComputeCloud]:
    cloud = ComputeCloud().start()
    cloud.compute_hosts.add(COMPUTE_HOST)
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def masakari(bus: RabbitMQ, workdir: pathlib.Path, cloud: ComputeCloud
             ) -> typing.Iterator[masakari_api.MasakariApi]:
    """masakari-api with a failover segment holding ``compute-1``."""
    api = masakari_api.MasakariApi(workdir, bus.url, cloud)
    api.sync_db()
    api.start()
    try:
        ha = api.sdk()
        segment = ha.create_segment(name="consumer-tests",
                                    recovery_method="auto",
                                    service_type="COMPUTE")
        host = ha.create_host(segment.uuid, name=COMPUTE_HOST,
                              type="COMPUTE", control_attributes="SSH")
        api.host_uuids[COMPUTE_HOST] = host.uuid
        yield api
    finally:
        api.stop()


@pytest.fixture
def publisher(bus: RabbitMQ, tmp_path: pathlib.Path,
              topic: str) -> typing.Iterator[Publisher]:
    with Publisher(tmp_path, bus.url, [topic]) as publisher:
        yield publisher
