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

"""Domain XML for the hypervisor tests, shaped like what Nova writes.

The guest is the test image (``tools/guest-image/build.py``) booted
directly from its kernel and initramfs under TCG (``<domain
type='qemu'>``: nested KVM hangs on the test machines). Like a Nova
instance it has:

* a name ``instance-<8 hex>`` and a UUID (Nova's instance UUID);
* Nova's ``<nova:instance>`` metadata, with the display name;
* the QEMU guest agent channel and the heartbeat channel, both unix
  sockets that QEMU binds, at Nova-style paths
  ``<dir>/<port name>.<domain name>.sock`` (Nova puts the QGA socket under
  ``/var/lib/libvirt/qemu``; the tests use one directory for both);
* the serial console as a pty logged to a file, as Nova does;
* ``on_crash`` destroy, like Nova.

And, unlike Nova unless asked:

* our optional ``<hb:heartbeat>`` settings element in ``<metadata>``;
* by default a ``<panic model='isa'/>`` (pvpanic) device, which turns a
  guest kernel panic into a libvirt CRASHED event (then, with ``on_crash``
  destroy, the domain stops). Nova adds no panic device: ``panic=False``
  gives its device set, where a panic looks like a hang whose vCPU keeps
  spinning;
* optionally a raw disk file, which the guest formats and mounts at
  ``/mnt/data``: it gives fsfreeze a file system to freeze and the
  domain block I/O counters.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
import secrets
import typing
import uuid
import xml.etree.ElementTree as ET

NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"
HEARTBEAT_NS = "http://openstack.org/xmlns/nova-vm-heartbeat/1.0"
HEARTBEAT_PORT = "org.openstack.heartbeat.0"
QGA_PORT = "org.qemu.guest_agent.0"
#: The pvpanic device's I/O port (QEMU's default).
PVPANIC_IOBASE = "0x505"

ET.register_namespace("nova", NOVA_NS)
ET.register_namespace("hb", HEARTBEAT_NS)


def random_name() -> str:
    """A Nova-style domain name: ``instance-`` and 8 hex digits."""
    return "instance-%08x" % secrets.randbits(32)


def socket_path(directory: pathlib.Path, port: str, name: str,
                ) -> pathlib.Path:
    """Where a channel's socket is: ``<dir>/<port>.<domain name>.sock``."""
    return directory / ("%s.%s.sock" % (port, name))


@dataclasses.dataclass(frozen=True)
class GuestImage:
    """A kernel, an initramfs and the command line they boot with."""

    kernel: pathlib.Path
    initrd: pathlib.Path
    cmdline: str


@dataclasses.dataclass(frozen=True)
class HeartbeatSettings:
    """Our ``<hb:heartbeat>`` metadata element's attributes."""

    interval: int = 1
    timeout: int = 1
    failure_threshold: int = 3
    boot_grace: int = 60


@dataclasses.dataclass(frozen=True)
class DomainSpec:
    """One test guest; :meth:`to_xml` renders it."""

    image: GuestImage
    #: Where the channel sockets and the console log go. Keep it short:
    #: a unix socket path holds at most 107 bytes.
    directory: pathlib.Path
    name: str = dataclasses.field(default_factory=random_name)
    uuid: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    display_name: str = "hb-test"
    #: 128 MiB is too tight: the initramfs alone holds 30 MiB, and the
    #: kernel's OOM killer then takes the agent's python3.
    memory_mib: int = 256
    vcpus: int = 1
    #: None leaves the ``<hb:heartbeat>`` element out.
    heartbeat: typing.Optional[HeartbeatSettings] = HeartbeatSettings()
    heartbeat_channel: bool = True
    qga_channel: bool = True
    panic: bool = True
    #: A raw disk file (the guest formats it), or None for no disk.
    disk: typing.Optional[pathlib.Path] = None
    #: Appended to the image's kernel command line (e.g. ``hb.respawn=1``).
    extra_cmdline: str = ""

    @property
    def heartbeat_socket(self) -> pathlib.Path:
        return socket_path(self.directory, HEARTBEAT_PORT, self.name)

    @property
    def qga_socket(self) -> pathlib.Path:
        return socket_path(self.directory, QGA_PORT, self.name)

    @property
    def console_log(self) -> pathlib.Path:
        return self.directory / ("%s.console.log" % self.name)

    def to_xml(self) -> str:
        return ET.tostring(_domain(self), encoding="unicode")


def _sub(parent: ET.Element, tag: str, text: typing.Optional[str] = None,
         **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def _nova(tag: str) -> str:
    return "{%s}%s" % (NOVA_NS, tag)


def _nova_instance(parent: ET.Element, spec: DomainSpec) -> None:
    instance = _sub(parent, _nova("instance"))
    _sub(instance, _nova("package"), version="34.0.0")
    _sub(instance, _nova("name"), spec.display_name)
    _sub(instance, _nova("creationTime"),
         datetime.datetime.now(datetime.timezone.utc).strftime(
             "%Y-%m-%d %H:%M:%S"))
    flavor = _sub(instance, _nova("flavor"), name="hb.test")
    for tag, value in (("memory", spec.memory_mib), ("disk", 0),
                       ("swap", 0), ("ephemeral", 0),
                       ("vcpus", spec.vcpus)):
        _sub(flavor, _nova(tag), str(value))
    owner = _sub(instance, _nova("owner"))
    _sub(owner, _nova("user"), "admin", uuid=str(uuid.UUID(int=1)))
    _sub(owner, _nova("project"), "admin", uuid=str(uuid.UUID(int=2)))


def _heartbeat(parent: ET.Element, settings: HeartbeatSettings) -> None:
    _sub(parent, "{%s}heartbeat" % HEARTBEAT_NS,
         **{field.name: str(getattr(settings, field.name))
            for field in dataclasses.fields(settings)})


def _os(parent: ET.Element, spec: DomainSpec) -> None:
    os_element = _sub(parent, "os")
    _sub(os_element, "type", "hvm", arch="x86_64", machine="pc")
    _sub(os_element, "kernel", str(spec.image.kernel))
    _sub(os_element, "initrd", str(spec.image.initrd))
    cmdline = " ".join(filter(None, [spec.image.cmdline,
                                     spec.extra_cmdline]))
    _sub(os_element, "cmdline", cmdline)


def _channel(devices: ET.Element, path: pathlib.Path, port: str) -> None:
    channel = _sub(devices, "channel", type="unix")
    _sub(channel, "source", mode="bind", path=str(path))
    _sub(channel, "target", type="virtio", name=port)


def _devices(parent: ET.Element, spec: DomainSpec) -> None:
    devices = _sub(parent, "devices")
    if spec.disk is not None:
        disk = _sub(devices, "disk", type="file", device="disk")
        _sub(disk, "driver", name="qemu", type="raw", cache="none")
        _sub(disk, "source", file=str(spec.disk))
        _sub(disk, "target", dev="vda", bus="virtio")
    serial = _sub(devices, "serial", type="pty")
    _sub(serial, "log", file=str(spec.console_log), append="off")
    _sub(serial, "target", port="0")
    if spec.qga_channel:
        _channel(devices, spec.qga_socket, QGA_PORT)
    if spec.heartbeat_channel:
        _channel(devices, spec.heartbeat_socket, HEARTBEAT_PORT)
    if spec.panic:
        panic = _sub(devices, "panic", model="isa")
        _sub(panic, "address", type="isa", iobase=PVPANIC_IOBASE)
    _sub(devices, "memballoon", model="none")


def _domain(spec: DomainSpec) -> ET.Element:
    domain = ET.Element("domain", type="qemu")
    _sub(domain, "uuid", spec.uuid)
    _sub(domain, "name", spec.name)
    _sub(domain, "memory", str(spec.memory_mib * 1024), unit="KiB")
    _sub(domain, "vcpu", str(spec.vcpus))
    metadata = _sub(domain, "metadata")
    _nova_instance(metadata, spec)
    if spec.heartbeat is not None:
        _heartbeat(metadata, spec.heartbeat)
    _os(domain, spec)
    features = _sub(domain, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    _sub(domain, "clock", offset="utc")
    for event, action in (("poweroff", "destroy"), ("reboot", "restart"),
                          ("crash", "destroy")):
        _sub(domain, "on_" + event, action)
    _devices(domain, spec)
    return domain
