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

"""Settings that make the monitor useless: one ERROR each, with the fix."""

from __future__ import annotations

import os

import fixtures

from tests.functional_nova import base


class MisconfigurationTest(base.HeartbeatTestBase):

    def errors(self) -> str:
        return "\n".join(
            line for line in self.stdlog.logger.output.splitlines()
            if "Heartbeat monitoring is misconfigured" in line)

    def test_each_useless_setting_is_one_error_line(self) -> None:
        missing = os.path.join(self.socket_dir, "missing")
        self.flags(notification_format="unversioned", group="notifications")
        self.flags(driver=["noop"], group="oslo_messaging_notifications")
        self.flags(socket_dir=missing, group="heartbeat")
        self.start_compute()
        errors = self.errors().splitlines()
        self.assertEqual(3, len(errors), errors)
        for fix in (
                "set [notifications] notification_format = versioned",
                "set [oslo_messaging_notifications] driver = messagingv2",
                "create it, writable by the user QEMU runs as (mkdir -p %s"
                % missing):
            self.assertEqual(1, sum(fix in e for e in errors), fix)
        self.assertTrue(all("ERROR" in e for e in errors), errors)
        # The compute runs, and so does its monitor.
        self.assertIsNotNone(self.driver().heartbeat_monitor)

    def test_a_useful_configuration_says_nothing(self) -> None:
        self.start_compute()
        self.assertEqual("", self.errors())

    def test_a_monitor_that_cannot_be_built_never_stops_the_compute(
            self) -> None:
        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("a bug in the monitor")

        self.useFixture(fixtures.MonkeyPatch(
            "nova_vm_heartbeat.virt.assembly.build", broken))
        self.start_compute()
        self.assertIsNone(self.driver().heartbeat_monitor)
        self.assertIn("Heartbeat monitoring is OFF on this host",
                      self.stdlog.logger.output)
        self._create_server(flavor_id=self.heartbeat_flavor(),
                            image_uuid=self.image_id, networks="none")
