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

"""The monitor's operator endpoints: the admin socket and the metrics.

They start and stop with :class:`~.service.MonitorService`, whoever runs
it (the standalone monitor or the Nova driver), as
:class:`~.options.RuntimeOptions` say. Neither is worth failing the
monitor for: one that cannot start is logged, with what to do, and the
monitor runs without it.
"""

from __future__ import annotations

import logging
import typing

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.runtime.fleet import InstanceStatus
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.runtime.telemetry import Snapshot

LOG = logging.getLogger(__name__)


class Provider(typing.Protocol):
    """What the endpoints ask of the service (any thread, with timeout)."""

    def statuses(self, timeout: float = 1.0) -> typing.List[InstanceStatus]:
        ...

    def telemetry(self, timeout: float = 1.0,
                  round_trips: bool = True) -> Snapshot:
        ...


class Endpoint(typing.Protocol):
    def start(self) -> None:
        ...

    def stop(self, timeout: float = 0.5) -> None:
        ...


class Endpoints:
    """The endpoints the options ask for; none by default."""

    def __init__(self, options: RuntimeOptions, provider: Provider):
        self.options = options
        self.provider = provider
        self.running: typing.List[Endpoint] = []

    def start(self) -> None:
        for endpoint in self._wanted():
            try:
                endpoint.start()
            except exception.EndpointFailed as err:
                LOG.error("%(err)s; the monitor runs without it", {
                    "err": err})
                continue
            self.running.append(endpoint)

    def stop(self) -> None:
        while self.running:
            self.running.pop().stop()

    def _wanted(self) -> typing.List[Endpoint]:
        wanted: typing.List[Endpoint] = []
        if self.options.admin is not None:
            from nova_vm_heartbeat.admin.server import AdminServer
            wanted.append(AdminServer(self.options.admin, self.provider,
                                      self.options.host))
        if self.options.metrics is not None:
            # Imported only when wanted: prometheus_client is not needed
            # otherwise.
            from nova_vm_heartbeat.metrics.exporter import MetricsExporter
            wanted.append(MetricsExporter(self.options.metrics,
                                          self.provider.telemetry))
        return wanted
