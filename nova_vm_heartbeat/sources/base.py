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

"""The instance-source interface: which instances, with which settings.

The runtime asks its source, every refresh period, for the instances to
monitor on this host. An instance that disappears from the answer stops
being monitored; one that appears starts. The Nova source (in
``nova_vm_heartbeat.virt``) answers from flavors and image properties; the
libvirt source (standalone mode) from the domains that carry our channel.
"""

from __future__ import annotations

import abc
import dataclasses
import typing

from nova_vm_heartbeat.monitor.policy import Settings


@dataclasses.dataclass(frozen=True)
class InstanceInfo:
    """One instance to monitor, as its source sees it."""

    #: The Nova instance uuid (the libvirt domain uuid).
    uuid: str
    #: The libvirt domain name (``instance-0000002a``).
    domain_name: str
    #: What the instance asks for; the runtime clamps it with its bounds.
    settings: Settings
    #: The host path of the heartbeat channel's UNIX socket (None: the
    #: instance has no heartbeat channel).
    heartbeat_socket: typing.Optional[str] = None
    #: The Nova display name, for people (may be empty).
    display_name: str = ""
    #: Whether the domain runs now.
    running: bool = True
    #: Seconds the domain has run, if known (None: assume a fresh boot).
    uptime: typing.Optional[float] = None


class InstanceSource(abc.ABC):
    """Answers "which instances, with which settings, in which state"."""

    @abc.abstractmethod
    def instances(self) -> typing.List[InstanceInfo]:
        """The instances to monitor on this host now.

        Called from the runtime's own thread, at most once per refresh
        period; it may block briefly (a libvirt or conductor call). It
        raises :class:`nova_vm_heartbeat.exception.SourceUnavailable` when
        it cannot tell; the runtime then keeps what it knew.
        """

    def close(self) -> None:
        """Release connections; the default has none."""
