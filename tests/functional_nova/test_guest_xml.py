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

"""The guest XML of servers with and without ``hw:heartbeat``."""

from __future__ import annotations

import typing
import xml.etree.ElementTree as etree

from tests.functional_nova import base

HEARTBEAT = "org.openstack.heartbeat.0"
QGA = "org.qemu.guest_agent.0"


def channels(xml: str) -> typing.Dict[str, typing.Optional[str]]:
    """target name -> socket path of each virtio channel."""
    found = {}
    for channel in etree.fromstring(xml).iterfind("devices/channel"):
        target, source = channel.find("target"), channel.find("source")
        assert target is not None and source is not None
        found[target.get("name", "")] = source.get("path")
    return found


class GuestXMLTest(base.HeartbeatTestBase):

    def setUp(self) -> None:
        super().setUp()
        self.start_compute()

    def test_a_heartbeat_flavor_gets_both_channels(self) -> None:
        server = self.boot(self.heartbeat_flavor())
        found = channels(self.xml[server["id"]])
        self.assertEqual(self.socket_of(server), found[HEARTBEAT])
        self.assertIn(QGA, found)  # from the image's hw_qemu_guest_agent
        root = etree.fromstring(self.xml[server["id"]])
        settings = root.find(
            "metadata/{http://openstack.org/xmlns/nova-vm-heartbeat/1.0}"
            "heartbeat")
        self.assertEqual({"interval": "1", "timeout": "1",
                          "failure_threshold": "2", "boot_grace": "20"},
                         None if settings is None else settings.attrib)

    def test_a_plain_flavor_gets_neither_of_ours(self) -> None:
        server = self.boot(str(self._create_flavor()))
        xml = self.xml[server["id"]]
        self.assertNotIn(HEARTBEAT, xml)
        self.assertNotIn("nova-vm-heartbeat", xml)
        self.assertIn(QGA, channels(xml))  # Nova's own, untouched
