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

"""Reading a domain's XML: good, missing and hostile values."""

from __future__ import annotations

import typing

import pytest

from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.sources import domain_xml
from tests.fakelibvirt import domain_xml as make_xml

UUID = "0b5c2f9e-7a41-4d3b-9e55-3f1d2c8a6b70"
SOCKET = "/var/lib/libvirt/qemu/org.openstack.heartbeat.0.instance-1.sock"
DEFAULTS = Settings(interval=10.0, timeout=5.0, failure_threshold=3,
                    boot_grace=300.0)


def describe(**kwargs: object) -> domain_xml.DomainDescription:
    arguments: typing.Dict[str, object] = {
        "uuid": UUID, "name": "instance-1", "heartbeat_socket": SOCKET}
    arguments.update(kwargs)
    found = domain_xml.describe(make_xml(**arguments),  # type: ignore
                                DEFAULTS)
    assert found is not None
    return found


def test_a_nova_domain_with_our_channel_and_qga() -> None:
    found = describe(qga=True, display_name="web-1", settings={
        "interval": "2", "timeout": "1.5", "failure_threshold": "4",
        "boot_grace": "120"})
    assert found.uuid == UUID
    assert found.name == "instance-1"
    assert found.display_name == "web-1"
    assert found.heartbeat_socket == SOCKET
    assert found.qga
    assert found.settings == Settings(interval=2.0, timeout=1.5,
                                      failure_threshold=4, boot_grace=120.0,
                                      heartbeat=True, qga=True)
    assert found.warnings == ()


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_every_nova_metadata_version(version: str) -> None:
    found = describe(display_name="vm", nova_ns="http://openstack.org/"
                     "xmlns/libvirt/nova/%s" % version)
    assert found.display_name == "vm"


def test_defaults_without_our_metadata() -> None:
    found = describe()
    assert found.settings == Settings(interval=10.0, timeout=5.0,
                                      failure_threshold=3, boot_grace=300.0,
                                      heartbeat=True, qga=False)
    assert not found.qga


def test_a_domain_without_our_channel_is_not_ours() -> None:
    xml = make_xml(UUID, "instance-1", "", qga=True)
    assert domain_xml.describe(xml, DEFAULTS) is None


def test_a_foreign_namespace_is_no_display_name() -> None:
    found = describe(display_name="x",
                     nova_ns="http://example.com/not-nova/1.1")
    assert found.display_name == ""


@pytest.mark.parametrize("value", [
    "abc", "-1", "0", "nan", "inf", "1e400", "", "  ", "1" * 100, "0x10",
])
def test_hostile_values_take_the_default(value: str) -> None:
    found = describe(settings={"interval": value, "failure_threshold": value,
                               "timeout": "2"})
    assert found.settings.interval == DEFAULTS.interval
    assert found.settings.failure_threshold == DEFAULTS.failure_threshold
    assert found.settings.timeout == 2.0
    assert len(found.warnings) == 2
    assert all(len(w) < 120 for w in found.warnings)


def test_a_fractional_threshold_is_not_an_integer() -> None:
    found = describe(settings={"failure_threshold": "2.5"})
    assert found.settings.failure_threshold == DEFAULTS.failure_threshold
    assert found.warnings


@pytest.mark.parametrize("text", [
    "", "not xml", "<domain>", "<network><uuid>x</uuid></network>",
    "<domain><name>no uuid</name></domain>",
    "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY e SYSTEM 'file:///etc/"
    "passwd'>]><domain><uuid>&e;</uuid></domain>",
])
def test_unreadable_definitions_raise_one_error(text: str) -> None:
    with pytest.raises(domain_xml.InvalidDomainXML):
        domain_xml.describe(text, DEFAULTS)


def test_too_long_a_definition_is_refused() -> None:
    text = "<domain>" + " " * domain_xml.MAX_XML_CHARS + "</domain>"
    with pytest.raises(domain_xml.InvalidDomainXML):
        domain_xml.describe(text, DEFAULTS)


@pytest.mark.parametrize("channel", [
    # not a unix socket
    "<channel type='pty'><target type='virtio' "
    "name='org.openstack.heartbeat.0'/></channel>",
    # QEMU connects instead of listening
    "<channel type='unix'><source mode='connect' path='/run/x.sock'/>"
    "<target type='virtio' name='org.openstack.heartbeat.0'/></channel>",
    # a relative path
    "<channel type='unix'><source mode='bind' path='x.sock'/>"
    "<target type='virtio' name='org.openstack.heartbeat.0'/></channel>",
    # not virtio
    "<channel type='unix'><source mode='bind' path='/run/x.sock'/>"
    "<target type='guestfwd' name='org.openstack.heartbeat.0'/></channel>",
])
def test_unusable_channels_are_ignored(channel: str) -> None:
    xml = ("<domain><uuid>%s</uuid><name>i</name><devices>%s</devices>"
           "</domain>" % (UUID, channel))
    assert domain_xml.describe(xml, DEFAULTS) is None


def test_the_first_of_two_heartbeat_channels_wins() -> None:
    channel = ("<channel type='unix'><source mode='bind' path='%s'/>"
               "<target type='virtio' name='org.openstack.heartbeat.0'/>"
               "</channel>")
    xml = ("<domain><uuid>%s</uuid><name>i</name><devices>%s%s</devices>"
           "</domain>" % (UUID, channel % "/a.sock", channel % "/b.sock"))
    found = domain_xml.describe(xml, DEFAULTS)
    assert found is not None and found.heartbeat_socket == "/a.sock"


def test_names_are_bounded_and_uuids_lower_case() -> None:
    found = describe(uuid=UUID.upper(), display_name="n" * 1000)
    assert found.uuid == UUID
    assert len(found.display_name) == domain_xml.MAX_NAME_CHARS
