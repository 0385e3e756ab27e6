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

"""nova-compute restarts with monitored instances: exactly the right verdicts.

While the compute is down, one guest keeps answering, one hangs and one's
domain is destroyed behind Nova's back (a host reboot, an operator's
``virsh destroy``): Nova's database still says all three run, and its
power-state sync would not say otherwise for ten minutes. The monitor asks
libvirt: the destroyed one is not judged, the hung one is reported lost
once, the healthy one is left alone.
"""

from __future__ import annotations

import time

from nova_vm_heartbeat.monitor.machine import MonitorState
from tests.functional_nova import base


class RestartTest(base.HeartbeatTestBase):

    def setUp(self) -> None:
        super().setUp()
        # A monitor that starts after an instance's boot grace gives it
        # [heartbeat] rearm_grace for its first answer: 1 s (the tier's
        # setting) is too tight on a loaded machine for the new session's
        # hello and first answer; the default is 60 s.
        self.flags(rearm_grace=3.0, group="heartbeat")
        self.start_compute()
        # A boot grace longer than a fake guest's boot, short enough for
        # the monitor, restarted seconds after the servers booted (and
        # counting them as still booting), to judge within the test.
        # Three misses, not two: the shared test machine may delay a
        # healthy agent's answer by a second under load.
        flavor = self.heartbeat_flavor(boot_grace="6",
                                       failure_threshold="3")
        self.healthy = self.boot_monitored(flavor=flavor)
        self.hung = self.boot_monitored(flavor=flavor)
        self.destroyed = self.boot_monitored(flavor=flavor)

    def test_restart_judges_what_libvirt_runs(self) -> None:
        # nova-compute goes down (its monitor with it); meanwhile one guest
        # hangs and one domain is shut off (a host reboot, virsh destroy).
        self._stop_monitor(self.driver())
        self.guests.guests[self.hung["id"]].freeze()
        self.domain(self.destroyed).destroy()
        before = len(self.lost_and_restored())
        self.restart_compute()
        self.assertEqual(
            "ACTIVE", self.api.get_server(self.destroyed["id"])["status"])

        self.notifier.wait_for_versioned_notifications(
            base.LOST, timeout=base.WAIT)
        time.sleep(base.JUDGED_WITHIN + 3)  # boot grace + judging, again
        self.assertEqual([(base.LOST, self.hung["id"])],
                         self.lost_and_restored()[before:])
        self.assertEqual(MonitorState.HEALTHY, self.state(self.healthy))
        self.assertEqual(MonitorState.INACTIVE, self.state(self.destroyed))

    def test_a_domain_destroyed_behind_novas_back_is_not_judged(
            self) -> None:
        # No lifecycle event reaches the driver (as when libvirtd was
        # restarting): libvirt's answer to the next look says it.
        before = len(self.lost_and_restored())
        self.restart_compute()
        self.wait_state(self.healthy, MonitorState.HEALTHY)
        self.domain(self.destroyed).destroy()
        self.wait_state(self.destroyed, MonitorState.INACTIVE)
        time.sleep(base.JUDGED_WITHIN + 3)
        self.assertEqual([], self.lost_and_restored()[before:])
        self.assertEqual(MonitorState.INACTIVE, self.state(self.destroyed))
