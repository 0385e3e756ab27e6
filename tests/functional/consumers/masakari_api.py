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

"""A real masakari-api (masakari 22) for the tests, in its own process.

Its database is a SQLite file made with ``masakari-manage db sync``, its
authentication ``noauth2`` (every request is an admin), its message bus
the test RabbitMQ (no masakari-engine runs: the notifications stay
``new``, and each stored notification is one recovery the engine would
run), and its Nova the :class:`~tests.functional.consumers.cloud.ComputeCloud`.
:meth:`MasakariApi.stop` and :meth:`MasakariApi.start` make an outage:
the database stays.
"""

from __future__ import annotations

import pathlib
import signal
import socket
import sys
import typing

from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from openstack import connection
import requests

from tests.functional.consumers.cloud import ComputeCloud
from tests.functional.consumers.processes import run_once
from tests.functional.consumers.processes import ServiceProcess
from tests.functional.fixtures import wait_until

PASTE = pathlib.Path(sys.prefix) / "etc" / "masakari" / "api-paste.ini"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MasakariApi:
    """masakari-api with noauth2 and a SQLite database, on a free port."""

    def __init__(self, workdir: pathlib.Path, transport_url: str,
                 cloud: ComputeCloud):
        self.workdir = workdir
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/v1" % self.port
        self.config = workdir / "masakari.conf"
        self.log = workdir / "masakari-api.log"
        #: The Masakari hosts the tests created, by name.
        self.host_uuids: typing.Dict[str, str] = {}
        self.process = ServiceProcess(
            ["masakari-api", "--config-file", str(self.config)], self.log)
        self._write_config(transport_url, cloud)

    def _write_config(self, transport_url: str, cloud: ComputeCloud) -> None:
        self.config.write_text("\n".join([
            "[DEFAULT]",
            "auth_strategy = noauth2",
            "transport_url = %s" % transport_url,
            "masakari_api_listen = 127.0.0.1",
            "masakari_api_listen_port = %d" % self.port,
            "masakari_api_workers = 1",
            # No random wait of up to 5 s before each insert: it exists
            # to spread concurrent inserts of several API workers.
            "notification_delay_max = 0",
            "os_privileged_user_name = masakari",
            "os_privileged_user_password = secret",
            "os_privileged_user_tenant = service",
            "os_privileged_user_auth_url = %s" % cloud.auth_url,
            "[keystone_authtoken]",
            "auth_type = v3password",
            "[database]",
            "connection = sqlite:///%s" % (self.workdir / "masakari.db"),
            "[taskflow]",
            "connection = sqlite:///%s" % (self.workdir / "taskflow.db"),
            "[wsgi]",
            "api_paste_config = %s" % PASTE,
            "[oslo_concurrency]",
            "lock_path = %s" % self.workdir,
            ""]))

    def sync_db(self) -> None:
        run_once(["masakari-manage", "--config-file", str(self.config),
                  "db", "sync"])

    def start(self) -> None:
        self.process.start()
        wait_until(self._answers, START_TIMEOUT,
                   "masakari-api on port %d (log: %s)" % (self.port, self.log))

    def _answers(self) -> bool:
        self.process.check_running()
        try:
            return requests.get(self.url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        """Stop the API and its worker: an outage (the database stays)."""
        self.process.stop()

    def freeze(self) -> None:
        """Stop answering without closing anything (SIGSTOP)."""
        self.process.signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.signal(signal.SIGCONT)

    def sdk(self) -> typing.Any:
        """openstacksdk's instance-ha proxy, as an admin of noauth2."""
        auth: typing.Any = ks_loading.get_plugin_loader(
            "none").load_from_options(
            endpoint=self.url)
        conn = connection.Connection(
            session=ks_session.Session(auth=auth),
            instance_ha_endpoint_override=self.url)
        return conn.instance_ha

    def notifications(self, instance_uuid: str) -> typing.List[typing.Any]:
        """Masakari's notifications about one instance."""
        return [n for n in self.sdk().notifications()
                if n.payload.get("instance_uuid") == instance_uuid]
