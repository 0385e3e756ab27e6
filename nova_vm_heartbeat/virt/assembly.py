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

:func:`build` makes the same
:class:`~nova_vm_heartbeat.composition.Monitor` as the standalone
monitor's ``build``, with Nova's parts: the host name is Nova's
``[DEFAULT] host``, instances come from Nova
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

from nova_vm_heartbeat import composition
from nova_vm_heartbeat.runtime.service import MonitorService
from nova_vm_heartbeat.virt import awareness
from nova_vm_heartbeat.virt.sink import NovaSink
from nova_vm_heartbeat.virt import source as nova_source


#: The outbox's directory under nova's ``state_path``, by default.
NOVA_OUTBOX = "heartbeat-outbox"

NovaMonitor = composition.Monitor[
    MonitorService, nova_source.NovaInstanceSource]


def build(conf: cfg.ConfigOpts, host: str,
          libvirt: typing.Optional[typing.Tuple[typing.Any, str]],
          fetch: typing.Optional[nova_source.Fetch] = None,
          running: typing.Optional[nova_source.RunningDomains] = None,
          ) -> NovaMonitor:
    """The monitor of one nova-compute host.

    :param host: this host's name (Nova's ``[DEFAULT] host``).
    :param libvirt: the libvirt module and URI for QEMU guest agent
        challenges and domain statistics; None for the heartbeat channel
        only.
    :param fetch: how the instances are asked for (by default, from the
        conductor).
    :param running: says which domains run (the driver asks Nova's own
        libvirt connection); None: the database's power state says.
    :raises InvalidConfiguration: see
        :func:`~nova_vm_heartbeat.composition.runtime_options`.
    """
    module, uri = libvirt if libvirt else (None, None)
    options = composition.runtime_options(conf, host, uri)
    group = conf.heartbeat_sink
    sink = NovaSink(group.nova_outbox_dir or os.path.join(
        conf.state_path, NOVA_OUTBOX), group.outbox_max)
    source = nova_source.NovaInstanceSource(
        fetch or nova_source.conductor_fetch(host), conf.heartbeat.socket_dir,
        options.defaults, interval=float(conf.heartbeat.conductor_interval),
        running_domains=running)
    service = MonitorService(
        source, sink, options, libvirt=module, lifecycle_events=False,
        operation_caps=awareness.OPERATION_CAPS,
        endpoints=composition.endpoints(options))
    return composition.Monitor(
        options=options, source=source, sink=sink, service=service,
        socket_dir=conf.heartbeat.socket_dir,
        destination="Nova's versioned notifier")
