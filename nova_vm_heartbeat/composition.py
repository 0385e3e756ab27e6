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

"""What the two programs that run a monitor build alike.

Each program has one plain function that builds its monitor from the
configuration: ``nova_vm_heartbeat.cmd.monitor.build`` for the standalone
monitor, ``nova_vm_heartbeat.virt.assembly.build`` for the monitor inside
nova-compute. Both make the options with :func:`runtime_options` and the
operator endpoints with :func:`endpoints`, pick their own source, sink and
service, and hand them to :class:`Monitor`, which holds the start-up log
line and the order of the stop.

This module sits above the adapters it puts together (``conf``,
``runtime``, ``admin``, ``metrics``) and below the programs (``virt``,
``cmd``); see ``doc/source/contributor/layering.rst``.
"""

from __future__ import annotations

import dataclasses
import logging
import typing

from oslo_config import cfg

from nova_vm_heartbeat.conf import values
from nova_vm_heartbeat.runtime.endpoints import EndpointFactory
from nova_vm_heartbeat.runtime.endpoints import Provider
from nova_vm_heartbeat.runtime.options import AdminEndpoint
from nova_vm_heartbeat.runtime.options import MetricsEndpoint
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.sinks.base import Sink
from nova_vm_heartbeat.sources.base import InstanceSource

if typing.TYPE_CHECKING:
    from nova_vm_heartbeat.admin.server import AdminServer
    from nova_vm_heartbeat.metrics.exporter import MetricsExporter

LOG = logging.getLogger(__name__)

#: How long the service may take to stop, in seconds.
STOP_TIMEOUT = 1.0


class Service(typing.Protocol):
    """What a monitor needs of ``runtime.service.MonitorService``."""

    def start(self) -> None:
        ...

    def stop(self, timeout: float = 1.0) -> None:
        ...


def admin_endpoint(conf: cfg.ConfigOpts) -> typing.Optional[AdminEndpoint]:
    """The admin socket to serve, or None when it is off."""
    group = conf.heartbeat_admin
    if not group.enabled:
        return None
    return AdminEndpoint(path=group.socket_path,
                         group=group.socket_group or None)


def metrics_endpoint(
        conf: cfg.ConfigOpts) -> typing.Optional[MetricsEndpoint]:
    """The metrics endpoint to serve, or None when it is off."""
    group = conf.heartbeat_metrics
    if not group.enabled:
        return None
    return MetricsEndpoint(address=group.bind_address, port=group.port,
                           per_instance=group.per_instance)


def runtime_options(conf: cfg.ConfigOpts, host: str,
                    libvirt_uri: typing.Optional[str]) -> RuntimeOptions:
    """Everything the runtime needs besides its source and its sink.

    :param host: the compute host's name (the notifications' publisher).
    :param libvirt_uri: the libvirt connection; None runs without libvirt.
    :raises InvalidConfiguration: see
        :func:`~nova_vm_heartbeat.conf.values.bounds` and
        :func:`~nova_vm_heartbeat.conf.values.limits`.
    """
    group = conf.heartbeat
    return RuntimeOptions(
        host=host,
        bounds=values.bounds(conf),
        defaults=values.default_settings(conf),
        limits=values.limits(conf),
        refresh_interval=group.refresh_interval,
        stats_interval=group.stats_interval,
        qga_workers=group.qga_workers,
        reconnect_max=group.reconnect_max,
        read_budget=group.read_budget,
        guest_cpu_budget=group.guest_cpu_budget,
        libvirt_uri=libvirt_uri,
        admin=admin_endpoint(conf),
        metrics=metrics_endpoint(conf),
        state_file=group.state_file or None,
    )


def endpoints(options: RuntimeOptions) -> typing.List[EndpointFactory]:
    """The operator endpoints the options ask for; none by default.

    The service makes them from itself (what they report on) when it
    starts. ``prometheus_client`` is imported only when metrics are
    wanted.
    """
    made: typing.List[EndpointFactory] = []
    admin, metrics = options.admin, options.metrics
    if admin is not None:
        def admin_server(provider: Provider) -> AdminServer:
            from nova_vm_heartbeat.admin.server import AdminServer
            return AdminServer(admin, provider, options.host)
        made.append(admin_server)
    if metrics is not None:
        def metrics_exporter(provider: Provider) -> MetricsExporter:
            from nova_vm_heartbeat.metrics.exporter import MetricsExporter
            return MetricsExporter(metrics, provider.telemetry)
        made.append(metrics_exporter)
    return made


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
