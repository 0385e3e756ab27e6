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

"""The heartbeat channel and metadata the driver adds to a guest.

The XML is read back with the standalone monitor's parser
(:mod:`nova_vm_heartbeat.sources.domain_xml`): what the driver writes is
what the standalone monitor finds.
"""

from __future__ import annotations

import typing

from nova.virt.libvirt import config as vconfig
import pytest

from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.sources import domain_xml
from nova_vm_heartbeat.virt import guest_config

UUID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"


def test_the_socket_path_is_derived_from_the_instance_name() -> None:
    assert guest_config.socket_path("/var/lib/libvirt/qemu",
                                    "instance-0000002a") == (
        "/var/lib/libvirt/qemu/"
        "org.openstack.heartbeat.0.instance-0000002a.sock")


def test_a_socket_path_too_long_for_af_unix_is_refused() -> None:
    with pytest.raises(guest_config.SocketPathTooLong,
                       match="shorter \\[heartbeat\\] socket_dir"):
        guest_config.socket_path("/" + "d" * 80, "instance-0000002a")


def _guest(settings: Settings) -> str:
    guest = vconfig.LibvirtConfigGuest()
    guest.virt_type = "kvm"
    guest.name = "instance-0000002a"
    guest.uuid = UUID
    guest.memory = 96 * 1024
    guest.vcpus = 1
    guest.add_device(guest_config.channel(guest_config.socket_path(
        "/run/hb", guest.name)))
    guest.metadata.append(guest_config.HeartbeatMetadata(settings))
    return str(guest.to_xml())


def test_the_standalone_monitor_reads_back_what_the_driver_writes() -> None:
    wanted = Settings(interval=2, timeout=1.5, failure_threshold=4,
                      boot_grace=90)
    text = _guest(wanted)
    assert '<target type="virtio" name="org.openstack.heartbeat.0"/>' in text
    found = domain_xml.describe(text, Settings())
    assert found is not None
    assert found.uuid == UUID
    assert found.heartbeat_socket == (
        "/run/hb/org.openstack.heartbeat.0.instance-0000002a.sock")
    assert (found.settings.interval, found.settings.timeout,
            found.settings.failure_threshold,
            found.settings.boot_grace) == (2, 1.5, 4, 90)
    assert found.warnings == ()


def test_the_panic_device_is_the_isa_pvpanic() -> None:
    # The hypervisor tier's domains carry the same device (with libvirt's
    # default I/O port spelled out) and its fault matrix shows a kernel
    # panic reported as guest_crashed through it.
    assert guest_config.PanicDevice().to_xml().strip() == \
        '<panic model="isa"/>'


def test_libvirts_crashed_event_is_queued_for_the_driver() -> None:
    from nova_vm_heartbeat.virt import driver as hb_driver

    calls: typing.List[int] = []
    queued: typing.List[object] = []

    class Handler:
        def _queue_event(self, event: object) -> None:
            queued.append(event)

    class Host:
        _event_handler = Handler()

    class Domain:
        def UUIDString(self) -> str:
            return "u-1"

    callback = hb_driver._crash_aware(
        lambda *args: calls.append(int(args[2])))
    callback(None, Domain(), guest_config.EVENT_CRASHED, 1, Host())
    callback(None, Domain(), 5, 0, Host())  # STOPPED: Nova's alone
    assert calls == [guest_config.EVENT_CRASHED, 5]
    [event] = queued
    assert isinstance(event, guest_config.GuestCrashedEvent)
    assert event.uuid == "u-1"
