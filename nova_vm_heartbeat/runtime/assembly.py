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

"""A built monitor: its parts, started and stopped in the right order.

Each program has one plain function that builds its monitor from the
configuration: ``nova_vm_heartbeat.cmd.monitor.build`` for the standalone
monitor, ``nova_vm_heartbeat.virt.assembly.build`` for the monitor inside
nova-compute. Both make the options with
:func:`nova_vm_heartbeat.conf.values.runtime_options`, pick their own
source, sink and service, and hand them to :class:`Monitor`, which is what
they share: the start-up log line, and the order of the stop.
"""

from __future__ import annotations

import dataclasses
import logging
import typing

from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.sinks.base import Sink
from nova_vm_heartbeat.sources.base import InstanceSource

LOG = logging.getLogger(__name__)

#: How long the service may take to stop, in seconds.
STOP_TIMEOUT = 1.0


class Service(typing.Protocol):
    """What a monitor needs of ``runtime.service.MonitorService``."""

    def start(self) -> None:
        ...

    def stop(self, timeout: float = 1.0) -> None:
        ...


ServiceT = typing.TypeVar("ServiceT", bound=Service)
SourceT = typing.TypeVar("SourceT", bound=InstanceSource)


@dataclasses.dataclass(frozen=True)
class Monitor(typing.Generic[ServiceT, SourceT]):
    """The parts of one host's monitor.

    The service owns the threads: it starts and stops the sink, and runs
    the libvirt event feed; the source's connection is closed here.

    :param options: what the service was built with.
    :param socket_dir: where the heartbeat sockets are (for the log).
    :param destination: where notifications go (for the log).
    """

    options: RuntimeOptions
    source: SourceT
    sink: Sink
    service: ServiceT
    socket_dir: str
    destination: str

    def start(self) -> None:
        LOG.info("Monitoring the instances of host %(host)s through "
                 "libvirt at %(uri)s (heartbeat sockets in %(dir)s); "
                 "notifications go to %(dest)s",
                 {"host": self.options.host, "uri": self.options.libvirt_uri,
                  "dir": self.socket_dir, "dest": self.destination})
        self.service.start()

    def stop(self) -> None:
        try:
            self.service.stop(timeout=STOP_TIMEOUT)
        finally:
            self.source.close()
