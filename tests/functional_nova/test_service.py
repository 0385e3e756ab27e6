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

"""The monitor lives and dies with the compute service."""

from __future__ import annotations

import time
import typing

import fixtures

from tests.functional_nova import base


class ServiceTest(base.HeartbeatTestBase):

    def test_the_compute_service_stops_with_the_monitor_joined(self) -> None:
        self.start_compute()
        self.boot_monitored()
        driver = self.driver()
        monitor = driver.heartbeat_monitor
        assert monitor is not None
        self.assertIn("heartbeat-monitor", self.heartbeat_threads())

        began = time.monotonic()
        self.computes["compute1"].stop()
        # Nova runs cleanup_host in a thread of its own and does not wait
        # for it in tests; the monitor must be gone soon after.
        while self.heartbeat_threads() or driver.heartbeat_monitor:
            if time.monotonic() - began > base.WAIT:
                self.fail("still running %g s after stop: %s" % (
                    base.WAIT, self.heartbeat_threads()))
            time.sleep(0.05)
        self.assertIsNone(driver.heartbeat_awareness.source)
        self.assertEqual([], self.heartbeat_notifications())

    def test_libvirt_coming_back_makes_every_monitor_forgive(self) -> None:
        self.start_compute()
        driver = self.driver()
        monitor = driver.heartbeat_monitor
        assert monitor is not None
        forgiven: typing.List[typing.Any] = []
        self.useFixture(fixtures.MonkeyPatch(
            "nova_vm_heartbeat.runtime.service.MonitorService.forgive_all",
            lambda service: forgiven.append(service)))
        # Nova's connection event handler, as libvirt's reconnection
        # calls it.
        driver._handle_conn_event(True, "connection to libvirt is back")
        self.assertEqual([monitor.service], forgiven)
