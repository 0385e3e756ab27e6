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

"""How the runtime runs: plain values, filled from configuration by
``nova_vm_heartbeat.conf`` and passed in, never read from CONF here."""

from __future__ import annotations

import dataclasses
import typing

from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.protocol.limits import DEFAULT_LIMITS
from nova_vm_heartbeat.protocol.limits import Limits


@dataclasses.dataclass(frozen=True)
class AdminEndpoint:
    """The local admin socket that ``nova-vm-heartbeat status`` asks.

    :param path: where the UNIX socket is bound.
    :param group: the group that may connect besides the owner (None:
        the process's own group).
    """

    path: str
    group: typing.Optional[str] = None


@dataclasses.dataclass(frozen=True)
class MetricsEndpoint:
    """Where Prometheus scrapes the monitor's metrics.

    :param per_instance: export a round-trip histogram per instance
        (else one per channel, for hosts with very many instances).
    """

    address: str
    port: int
    per_instance: bool = True


@dataclasses.dataclass(frozen=True)
class RuntimeOptions:
    """Everything the runtime needs besides its source and its sink.

    :param host: this compute host's name (Nova's ``CONF.host``), used
        as the notification publisher.
    :param bounds: the operator's floors, ceilings and caps.
    :param defaults: settings for instances that ask for nothing.
    :param limits: bounds on what a guest may send.
    :param refresh_interval: seconds between two questions to the source.
    :param stats_interval: seconds between two domain statistics samples.
    :param qga_workers: threads for blocking QGA calls (all instances).
    :param reconnect_max: longest back-off between two attempts to
        connect a heartbeat socket, in seconds.
    :param read_budget: most bytes read from one guest per second; a
        guest that sends more is not read until the next second.
    :param guest_cpu_budget: CPU seconds per second the monitor thread
        may spend on one guest's channel; past it, the guest is not read
        until the budget refills.
    :param libvirt_uri: the libvirt connection for QGA, events and stats;
        None runs without libvirt (heartbeat channel only).
    :param admin: the admin socket to serve (None: none).
    :param metrics: the metrics endpoint to serve (None: none).
    :param state_file: where the episodes are kept across restarts
        (None: in memory only).
    """

    host: str
    bounds: Bounds = Bounds()
    defaults: Settings = Settings()
    limits: Limits = DEFAULT_LIMITS
    refresh_interval: float = 10.0
    stats_interval: float = 0.5
    qga_workers: int = 4
    reconnect_max: float = 30.0
    read_budget: int = 65536
    guest_cpu_budget: float = 0.01
    libvirt_uri: typing.Optional[str] = "qemu:///system"
    admin: typing.Optional[AdminEndpoint] = None
    metrics: typing.Optional[MetricsEndpoint] = None
    state_file: typing.Optional[str] = None
