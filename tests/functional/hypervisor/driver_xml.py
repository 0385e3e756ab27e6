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

"""Domain XML written by Nova's libvirt config and our driver's own code.

:mod:`.domains` writes XML by hand, shaped like Nova's. This module
instead builds a ``nova.virt.libvirt.config.LibvirtConfigGuest`` for a
TCG direct-kernel boot the way ``LibvirtDriver._get_guest_config`` does
(for an image with a kernel and a ramdisk: ``_set_guest_for_inst_kernel``
with the image's ``os_command_line``, ``_set_clock``,
``_create_pty_device`` for the logged serial console, the memory
balloon), then lets :class:`HeartbeatLibvirtDriver` add its devices with
its real ``_set_qemu_guest_agent`` (the QEMU guest agent channel from
Nova, then our heartbeat channel, ``_add_panic_device`` and our
metadata), and renders it with ``to_xml()``.

The driver is not started: its methods are called on an instance made
without ``__init__`` (none of them touches libvirt). Nova's objects and
configuration are used as nova-compute uses them: ``[libvirt] virt_type
= qemu``, ``[heartbeat] socket_dir`` the test's directory, and an
``instance_name_template`` that keeps the domains apart from a real
cloud's ``instance-*`` on the same libvirtd.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import secrets
import time
import typing
import uuid

from tests.functional.hypervisor import domains

#: Domain names of these guests: not Nova's default ``instance-%08x``.
NAME_TEMPLATE = "hbnova-%08x"
#: The boot grace of the test guests: a TCG boot takes 15 s on a quiet
#: host, and was seen to take over 60 s on a loaded one.
BOOT_GRACE = 300
#: The flavor of the test guests (as :class:`domains.HeartbeatSettings`,
#: but for the boot grace).
FLAVOR_SPECS = {
    "hw:heartbeat": "true", "hw:heartbeat_interval": "1",
    "hw:heartbeat_timeout": "1", "hw:heartbeat_failure_threshold": "3",
    "hw:heartbeat_boot_grace": str(BOOT_GRACE),
}


def _configure(socket_dir: pathlib.Path) -> typing.Any:
    """Nova's CONF, set as a TCG compute with our options would be."""
    from nova import conf as nova_conf
    from nova import objects

    from nova_vm_heartbeat import conf as heartbeat_conf
    conf = nova_conf.CONF
    objects.register_all()
    heartbeat_conf.register_opts(conf)
    conf.set_override("virt_type", "qemu", group="libvirt")
    conf.set_override("instance_name_template", NAME_TEMPLATE)
    conf.set_override("socket_dir", str(socket_dir), group="heartbeat")
    return conf


def _driver() -> typing.Any:
    """A HeartbeatLibvirtDriver whose guest-config methods can be called."""
    from nova_vm_heartbeat.virt.driver import HeartbeatLibvirtDriver
    return object.__new__(HeartbeatLibvirtDriver)


def _instance_dir(spec: "NovaDomainSpec") -> pathlib.Path:
    """Nova's instance directory: ``kernel`` and ``ramdisk`` in it."""
    directory = spec.directory / spec.uuid
    directory.mkdir(exist_ok=True)
    for name, source in (("kernel", spec.image.kernel),
                         ("ramdisk", spec.image.initrd)):
        target = directory / name
        if not target.exists():
            os.link(source, target)
    return directory


def _objects(spec: "NovaDomainSpec") -> typing.Tuple[
        typing.Any, typing.Any, typing.Any]:
    """Nova's flavor, instance and image metadata of the guest."""
    from nova import objects
    flavor = objects.Flavor(name="hb.test", memory_mb=spec.memory_mib,
                            vcpus=spec.vcpus, root_gb=0, ephemeral_gb=0,
                            swap=0, extra_specs=dict(spec.extra_specs))
    instance = objects.Instance(
        id=spec.instance_id, uuid=spec.uuid, display_name=spec.display_name,
        task_state=None, system_metadata={}, os_type=None,
        kernel_id="kernel",
        ramdisk_id="ramdisk", flavor=flavor)
    image_meta = objects.ImageMeta.from_dict({"properties": {
        "hw_qemu_guest_agent": "yes", "hw_architecture": "x86_64",
        "os_command_line": " ".join(filter(None, [
            spec.image.cmdline, spec.extra_cmdline]))}})
    return flavor, instance, image_meta


def _meta(spec: "NovaDomainSpec") -> typing.Any:
    """Nova's ``<nova:instance>`` (display name, flavor, owner)."""
    from nova.virt.libvirt import config as vconfig
    meta = vconfig.LibvirtConfigGuestMetaNovaInstance()
    meta.package = "34.0.0"
    meta.name = spec.display_name
    meta.creationTime = time.time()
    flavor = vconfig.LibvirtConfigGuestMetaNovaFlavor()
    flavor.name, flavor.id = "hb.test", "1"
    flavor.memory, flavor.vcpus = spec.memory_mib, spec.vcpus
    flavor.disk = flavor.swap = flavor.ephemeral = 0
    flavor.extra_specs = dict(spec.extra_specs)
    meta.flavor = flavor
    owner = vconfig.LibvirtConfigGuestMetaNovaOwner()
    owner.userid, owner.username = str(uuid.UUID(int=1)), "admin"
    owner.projectid, owner.projectname = str(uuid.UUID(int=2)), "admin"
    meta.owner = owner
    return meta


def guest_config(spec: "NovaDomainSpec") -> typing.Any:
    """The guest's LibvirtConfigGuest, with the driver's devices added."""
    from nova.virt.libvirt import config as vconfig
    from nova.virt.libvirt import utils as libvirt_utils
    conf = _configure(spec.directory)
    driver = _driver()
    flavor, instance, image_meta = _objects(spec)
    assert instance.name == spec.name, (instance.name, spec.name)
    guest = vconfig.LibvirtConfigGuest()
    guest.virt_type = conf.libvirt.virt_type
    guest.name, guest.uuid = instance.name, instance.uuid
    guest.memory, guest.vcpus = spec.memory_mib * 1024, spec.vcpus
    guest.metadata.append(_meta(spec))
    guest.os_type = driver._get_guest_os_type()
    guest.os_mach_type = libvirt_utils.get_machine_type(image_meta)
    driver._set_guest_for_inst_kernel(instance, guest,
                                      str(_instance_dir(spec)), "/dev/vda",
                                      image_meta)
    guest.features = [vconfig.LibvirtConfigGuestFeatureACPI(),
                      vconfig.LibvirtConfigGuestFeatureAPIC()]
    driver._set_clock(guest, instance.os_type, image_meta)
    driver._create_pty_device(guest, vconfig.LibvirtConfigGuestSerial,
                              log_path=str(spec.console_log))
    driver._set_qemu_guest_agent(guest, flavor, instance, image_meta)
    driver._guest_add_memory_balloon(guest)
    return guest


@dataclasses.dataclass(frozen=True)
class NovaDomainSpec(domains.DomainSpec):
    """A test guest whose XML Nova's config and our driver write.

    The flavor's extra specs decide what the driver adds; the
    :class:`domains.DomainSpec` fields that describe devices
    (``heartbeat``, ``panic``...) are not used, except to tell the
    harness what to expect: set ``panic`` to what the flavor asks.
    """

    instance_id: int = dataclasses.field(
        default_factory=lambda: secrets.randbits(31))
    name: str = ""
    extra_specs: typing.Mapping[str, str] = dataclasses.field(
        default_factory=lambda: dict(FLAVOR_SPECS))

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", NAME_TEMPLATE % self.instance_id)

    def to_xml(self) -> str:
        xml: str = guest_config(self).to_xml()
        return xml
