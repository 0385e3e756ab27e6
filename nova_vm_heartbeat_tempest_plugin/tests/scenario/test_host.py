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

"""Restarts on the compute host: exactly the right recoveries, no more.

These tests act on the compute host through ``[heartbeat]
host_command`` and skip without ``host_access``. They restart
nova-compute (our monitor runs inside it) while one guest is hung and
others are healthy, and simulate a host reboot: nova-compute stopped, the
cloud's domains destroyed, libvirtd restarted where the host command may
do so, nova-compute started.
"""

from __future__ import annotations

import time

from tempest import config
from tempest.lib import decorators

from nova_vm_heartbeat_tempest_plugin.common import notifications
from nova_vm_heartbeat_tempest_plugin.tests.scenario import base

CONF = config.CONF
#: The monitor re-arms every instance after a restart with a grace of
#: 60 s ([heartbeat] rearm_grace's default); a false alarm after a restart
#: shows after that grace and failure_threshold intervals.
REARM_GRACE = 60


class HostRestartTest(base.HeartbeatScenarioTest):

    needs_masakari = True

    def setUp(self) -> None:
        super().setUp()
        self.require_host_access()

    def window(self) -> float:
        hb = CONF.heartbeat
        return float(max(hb.quiet_period, REARM_GRACE + hb.interval * (
            hb.failure_threshold + 2)))

    @decorators.idempotent_id("6c2a9d1e-3b4f-4a8c-9d7e-1f0a2b3c4d5e")
    @decorators.attr(type="slow")
    def test_compute_restart_with_a_hung_guest(self) -> None:
        # One guest hangs, two stay healthy. nova-compute is restarted
        # right after the verdict about the hung one, while it is still
        # hung: exactly one verdict and one recovery for it, none for the
        # healthy ones, however the restart re-judges them.
        hb = CONF.heartbeat
        healthy = [self.boot_guest()["id"] for _ in range(2)]
        hung = self.boot_guest(self.fault("hang"))["id"]
        verdict = self.verdicts.wait_for(hung, notifications.LOST,
                                         hb.verdict_timeout)
        # At once: the guest is still hung (Masakari's stop waits for the
        # compute service if it comes first).
        self.host("restart-compute")
        self.assert_recovered_once(hung, notifications.LOST,
                                   ("guest_hung",), verdict=verdict)
        for sid in healthy:
            self.wait_until_healthy(sid)
        time.sleep(max(0.0, self.window() - hb.quiet_period))
        for sid in healthy:
            self.assert_no_alarm(sid)
        self.assertEqual(1, len(self.verdicts.verdicts(
            hung, notifications.LOST)))
        self.assertEqual(1, len(self.masakari_notifications(hung)))

    @decorators.idempotent_id("f4e3d2c1-b0a9-4876-9543-210fedcba987")
    @decorators.attr(type="slow")
    def test_simulated_host_reboot_is_no_alarm(self) -> None:
        # Every domain of the cloud is gone when nova-compute starts,
        # while Nova's database still says the instances run: the monitor
        # must ask the hypervisor, and report nothing.
        sids = [self.boot_guest()["id"] for _ in range(2)]
        for sid in sids:
            self.wait_until_healthy(sid)
        self.host("reboot-host")
        time.sleep(self.window())
        for sid in sids:
            self.assert_no_alarm(sid)
