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
it (the standalone monitor or the Nova driver). The runtime does not know
what they are (they sit above it, and read it): the programs pass their
factories in (``nova_vm_heartbeat.composition.endpoints``). Neither is
worth failing the monitor for: one that cannot start is logged, with what
to do, and the monitor runs without it.
"""

from __future__ import annotations

import logging
import typing

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.runtime.fleet import InstanceStatus
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


#: Makes an endpoint that reports on a provider.
EndpointFactory = typing.Callable[[Provider], Endpoint]


class Endpoints:
    """The endpoints made by ``factories``; none by default."""

    def __init__(self, factories: typing.Sequence[EndpointFactory],
                 provider: Provider):
        self.factories = tuple(factories)
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
        return [make(self.provider) for make in self.factories]
