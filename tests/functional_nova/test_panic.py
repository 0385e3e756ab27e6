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

"""A pvpanic device for heartbeat guests: a kernel panic is a crash, at once.

The guest XML gets ``<panic model='isa'/>`` (on by default; the operator,
the flavor and the image may opt out). libvirt's "crashed" event, which
Nova itself ignores, reaches the monitor through Nova's own event queue
and is reported as ``guest_crashed`` within a second.
"""

from __future__ import annotations

import copy
import time
import typing
import xml.etree.ElementTree as etree

import fixtures
from oslo_utils.fixture import uuidsentinel as uuids

from nova_vm_heartbeat.virt import guest_config
from tests.functional_nova import base


def panic_models(xml: str) -> typing.List[typing.Optional[str]]:
    return [p.get("model") for p in etree.fromstring(xml).iterfind(
        "devices/panic")]


class PanicDeviceTest(base.HeartbeatTestBase):

    def setUp(self) -> None:
        super().setUp()
        self.start_compute()

    def test_heartbeat_guests_get_a_pvpanic_device(self) -> None:
        server = self.boot(self.heartbeat_flavor())
        self.assertEqual(["isa"], panic_models(self.xml[server["id"]]))
        plain = self.boot(str(self._create_flavor()))
        self.assertEqual([], panic_models(self.xml[plain["id"]]))

    def test_the_flavor_and_the_image_may_opt_out(self) -> None:
        server = self.boot(self.heartbeat_flavor(panic="false"))
        self.assertEqual([], panic_models(self.xml[server["id"]]))
        image = copy.deepcopy(self.glance.image1)
        image["id"] = uuids.no_panic_image
        image["properties"]["hw_heartbeat_panic"] = "false"
        self.glance.create(None, image)
        server = self._create_server(
            flavor_id=self.heartbeat_flavor(), image_uuid=image["id"],
            networks="none")
        self.assertEqual([], panic_models(self.xml[server["id"]]))

    def test_the_operator_may_turn_it_off(self) -> None:
        self.flags(panic_device=False, group="heartbeat")
        server = self.boot(self.heartbeat_flavor())
        self.assertEqual([], panic_models(self.xml[server["id"]]))

    def test_a_kernel_panic_is_reported_as_a_crash_at_once(self) -> None:
        server = self.boot_monitored()
        driver = self.driver()
        queued: typing.List[typing.Any] = []
        # The harness starts no libvirt event thread: take what Nova's
        # queue would dispatch, as its dispatcher would.
        self.useFixture(fixtures.MockPatchObject(
            driver._host._event_handler, "_queue_event",
            side_effect=queued.append))
        domain = self.domain(server)
        began = time.monotonic()
        driver._host._event_lifecycle_callback(
            driver._host.get_connection(), domain,
            guest_config.EVENT_CRASHED, 1, driver._host)  # PANICKED
        [event] = queued
        driver.emit_event(event)
        [lost] = self.notifier.wait_for_versioned_notifications(
            base.LOST, timeout=base.WAIT)
        self.assertLess(time.monotonic() - began, 1.0)
        self.assertEqual("guest_crashed",
                         lost["payload"]["nova_object.data"]["fault_class"])
