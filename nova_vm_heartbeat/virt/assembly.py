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

"""The monitor inside nova-compute, built like the standalone one.

:class:`NovaMonitor` is the standalone monitor's
:class:`~nova_vm_heartbeat.cmd.monitor.Monitor` with Nova's parts: the
host name is Nova's ``[DEFAULT] host``, instances come from Nova
(:class:`~.source.NovaInstanceSource`), verdicts go out through Nova's
versioned notifier (:class:`~.sink.NovaSink`, through the same durable
outbox as the standalone monitor's messaging sink), and libvirt's lifecycle
events come from the driver instead of an event thread of our own.
Whatever the standalone monitor builds from the configuration besides
(options, bounds, limits) is built here the same way.
"""

from __future__ import annotations

import os
import typing

from oslo_config import cfg

from nova_vm_heartbeat.cmd import monitor as cmd_monitor
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.runtime.service import MonitorService
from nova_vm_heartbeat.sinks.base import Sink
from nova_vm_heartbeat.sources.base import InstanceSource
from nova_vm_heartbeat.virt import awareness
from nova_vm_heartbeat.virt.sink import NovaSink
from nova_vm_heartbeat.virt import source as nova_source


#: The outbox's directory under nova's ``state_path``, by default.
NOVA_OUTBOX = "heartbeat-outbox"


class NovaMonitor(cmd_monitor.Monitor):
    """The monitor of one nova-compute host.

    :param libvirt: the libvirt module and URI for QEMU guest agent
        challenges and domain statistics; None for the heartbeat channel
        only.
    :param running: says which domains run (the driver asks Nova's own
        libvirt connection); None: the database's power state says.
    """

    def __init__(self, conf: cfg.ConfigOpts, host: str,
                 libvirt: typing.Optional[typing.Tuple[typing.Any, str]],
                 fetch: typing.Optional[nova_source.Fetch] = None,
                 running: typing.Optional[nova_source.RunningDomains] = None):
        self._host = host
        self._conductor_interval = float(conf.heartbeat.conductor_interval)
        self._libvirt = libvirt
        self._running = running
        self._fetch = fetch or nova_source.conductor_fetch(host)
        self.nova_source: typing.Optional[
            nova_source.NovaInstanceSource] = None
        self.monitor_service: typing.Optional[MonitorService] = None
        super().__init__(conf, cmd_monitor.Factories(
            source=self._make_source, service=self._make_service,
            sink=self._make_sink))

    def host(self, conf: cfg.ConfigOpts) -> str:
        return self._host

    def libvirt_uri(self, conf: cfg.ConfigOpts) -> typing.Optional[str]:
        return self._libvirt[1] if self._libvirt else None

    def describe_sink(self, conf: cfg.ConfigOpts) -> str:
        return "Nova's versioned notifier"

    def _make_source(self, uri: str, defaults: Settings) -> InstanceSource:
        self.nova_source = nova_source.NovaInstanceSource(
            self._fetch, self.socket_dir, defaults,
            interval=self._conductor_interval,
            running_domains=self._running)
        return self.nova_source

    def _make_sink(self, name: str, conf: cfg.ConfigOpts) -> Sink:
        group = conf.heartbeat_sink
        directory = group.nova_outbox_dir or os.path.join(
            conf.state_path, NOVA_OUTBOX)
        return NovaSink(directory, group.outbox_max)

    def _make_service(self, source: InstanceSource, sink: Sink,
                      options: RuntimeOptions) -> cmd_monitor.Service:
        module = self._libvirt[0] if self._libvirt else None
        self.monitor_service = MonitorService(
            source, sink, options, libvirt=module, lifecycle_events=False,
            operation_caps=awareness.OPERATION_CAPS)
        return self.monitor_service
