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

"""The bridge's parts, made from the configuration and run together."""

from __future__ import annotations

import functools
import logging
import typing

from oslo_config import cfg

from nova_vm_heartbeat.conf import masakari_client
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.masakari.client import MasakariClient
from nova_vm_heartbeat.masakari.delivery import Deliverer
from nova_vm_heartbeat.masakari.freshness import Freshness
from nova_vm_heartbeat.masakari.gate import RetryGate
from nova_vm_heartbeat.masakari import listener
from nova_vm_heartbeat.masakari.request import Selection

LOG = logging.getLogger(__name__)

APP_NAME = "nova-vm-heartbeat-masakari-bridge"


def connect(conf: cfg.ConfigOpts) -> typing.Any:
    """An openstacksdk connection for Masakari, from ``[masakari]``.

    :raises InvalidConfiguration: no authentication is configured.
    """
    from keystoneauth1 import loading
    from openstack.config import cloud_region
    from openstack import connection

    group = masakari_client.GROUP_NAME
    auth = loading.load_auth_from_conf_options(conf, group)
    if auth is None:
        raise exception.InvalidConfiguration(
            reason="[masakari] auth_type is not set: the bridge needs "
                   "credentials with the admin role to reach Masakari")
    session = loading.load_session_from_conf_options(conf, group, auth=auth)
    region = cloud_region.from_conf(
        conf, session=session,
        service_types=[masakari_client.SERVICE_TYPE], app_name=APP_NAME)
    return connection.Connection(config=region)


class Bridge:
    """Listens, delivers, and stops cleanly."""

    def __init__(self, conf: cfg.ConfigOpts):
        group = conf.masakari_bridge
        self._max_age: float = group.max_verdict_age
        connect(conf)  # fail at start-up, not at the first verdict
        self.selection = Selection.from_names(group.fault_classes)
        self.gate = RetryGate(group.retry_delay, group.retry_max_delay)
        deliverer = Deliverer(
            MasakariClient(functools.partial(connect, conf)),
            self.selection, self.gate, group.attempts,
            Freshness(group.max_verdict_age))
        self.listener = listener.Listener(conf, listener.Endpoint(deliverer))

    def start(self) -> None:
        LOG.info("Listening for heartbeat verdicts on %(targets)s in pool "
                 "%(pool)s; asking Masakari to recover fault classes "
                 "%(faults)s, for verdicts %(age)s",
                 {"targets": ", ".join("%s/%s.info" % (t.exchange, t.topic)
                                       for t in self.listener.targets),
                  "pool": self.listener.pool,
                  "faults": ", ".join(sorted(
                      f.value for f in self.selection.fault_classes)),
                  "age": ("at most %g s old" % self._max_age
                          if self._max_age else "of any age")})
        self.listener.start()

    def stop(self) -> None:
        """Stop within the time of the requests in flight.

        Nothing more is taken from the queue, what waits for Masakari is
        put back, and the requests already sent are answered first.
        """
        self.listener.stop()
        self.gate.stop()
        self.listener.wait()
