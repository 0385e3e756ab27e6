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

"""What the driver adds to a guest's libvirt configuration.

* the heartbeat channel: a virtio-serial port ``org.openstack.heartbeat.0``
  whose host end is a UNIX socket that QEMU binds at a path derived from
  the instance name alone (:func:`socket_path`), so the monitor finds it
  without reading the domain XML back;
* a pvpanic device (:class:`PanicDevice`), so that a guest kernel panic is
  a libvirt "crashed" event (:class:`GuestCrashedEvent`) instead of a
  silence;
* our metadata element, ``<hb:heartbeat interval=... />``, with the
  settings the flavor asked for, so that the standalone monitor
  (``nova_vm_heartbeat.sources.domain_xml``) judges the instance the same
  way after nova-compute is gone.
"""

from __future__ import annotations

import os
import typing

from nova.virt.libvirt import config as vconfig
from nova.virt.libvirt import event as libvirt_event

from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.sources import domain_xml

#: The settings written as attributes (``domain_xml`` reads them back).
METADATA_ATTRIBUTES = ("interval", "timeout", "failure_threshold",
                       "boot_grace")
#: AF_UNIX socket paths hold at most 107 bytes and a NUL.
MAX_SOCKET_PATH = 107
#: The architectures whose pvpanic device is libvirt's model "isa".
ISA_PANIC_ARCHES = frozenset({"x86_64", "i686"})
#: libvirt's VIR_DOMAIN_EVENT_CRASHED (Nova's fake libvirt lacks it).
EVENT_CRASHED = 8


class SocketPathTooLong(ValueError):
    """The derived socket path does not fit in a UNIX socket address."""


def socket_path(socket_dir: str, instance_name: str) -> str:
    """The host path of an instance's heartbeat socket.

    :raises SocketPathTooLong: ``[heartbeat] socket_dir`` is too long.
    """
    path = os.path.join(socket_dir, "%s.%s.sock" % (
        domain_xml.HEARTBEAT_CHANNEL, instance_name))
    if len(path.encode()) > MAX_SOCKET_PATH:
        raise SocketPathTooLong(
            "the heartbeat socket path %s is %d bytes long; UNIX sockets "
            "allow %d: choose a shorter [heartbeat] socket_dir"
            % (path, len(path.encode()), MAX_SOCKET_PATH))
    return path


def channel(path: str) -> vconfig.LibvirtConfigGuestChannel:
    """The heartbeat channel device (QEMU binds, nova-compute connects)."""
    device = vconfig.LibvirtConfigGuestChannel()
    device.type = "unix"
    device.target_name = domain_xml.HEARTBEAT_CHANNEL
    device.source_path = path
    return device


class HeartbeatMetadata(vconfig.LibvirtConfigObject):  # type: ignore[misc]
    """``<hb:heartbeat>`` in the domain's ``<metadata>``."""

    def __init__(self, settings: Settings):
        super().__init__(root_name="heartbeat", ns_prefix="hb",
                         ns_uri=domain_xml.HB_NS)
        self.settings = settings

    def format_dom(self) -> typing.Any:
        node = self._new_node(self.root_name)
        for name in METADATA_ATTRIBUTES:
            node.set(name, "%g" % getattr(self.settings, name))
        return node


class PanicDevice(vconfig.LibvirtConfigGuestDevice):  # type: ignore[misc]
    """``<panic model='isa'/>``: QEMU's ISA pvpanic device (x86)."""

    def __init__(self) -> None:
        super().__init__(root_name="panic")
        self.model = "isa"

    def format_dom(self) -> typing.Any:
        node = super().format_dom()
        node.set("model", self.model)
        return node


class GuestCrashedEvent(libvirt_event.LibvirtEvent):  # type: ignore[misc]
    """libvirt said the guest crashed (a kernel panic, through pvpanic).

    Nova ignores libvirt's "crashed" lifecycle event; the driver queues
    this one on Nova's event queue (the only thing libvirt's native event
    thread may do) and takes it back in ``emit_event``.
    """
