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

"""Faults inside the guest are reported, and Masakari recovers the guest.

Each guest injects its fault itself (``hb.fault`` on its command line),
once: the boot after the recovery is healthy, so a second notification
would be a loop of ours, not the guest's.
"""

from __future__ import annotations

from tempest import config
from tempest.lib import decorators

from nova_vm_heartbeat_tempest_plugin.common import notifications
from nova_vm_heartbeat_tempest_plugin.tests.scenario import base

CONF = config.CONF
#: A crash reported through the pvpanic device: the silence before the
#: verdict is at most the time since the last answer before the panic
#: (one interval) plus this margin, where a hang needs failure_threshold
#: whole intervals of silence.
CRASH_MARGIN = 2.0


class GuestRecoveryTest(base.HeartbeatScenarioTest):
    """A fault, a verdict, one Masakari recovery, the heartbeat back.

    heartbeat_lost or recovery_requested -> Masakari stop and start ->
    ACTIVE -> healthy again, exactly once.
    """

    needs_masakari = True

    @decorators.idempotent_id("409835ea-9aad-4460-a4c0-05a7803c7419")
    @decorators.attr(type="slow")
    def test_hung_guest_is_recovered(self) -> None:
        server = self.boot_guest(self.fault("hang"))
        self.assert_recovered_once(server["id"], notifications.LOST,
                                   ("guest_hung",))

    @decorators.idempotent_id("cf030353-7886-4f39-aef7-33542f92cc10")
    @decorators.attr(type="slow")
    def test_kernel_panic_without_panic_device_is_recovered(self) -> None:
        # hw:heartbeat_panic=false: Nova's own device set, no pvpanic.
        # The panicked guest's vCPU spins and it falls silent: a hang.
        flavor = CONF.heartbeat.flavor_ref_nopanic
        if not flavor:
            raise self.skipException(
                "[heartbeat] flavor_ref_nopanic (a hw:heartbeat flavor "
                "with hw:heartbeat_panic=false) is not set")
        server = self.boot_guest(self.fault("panic"), flavor_ref=flavor)
        self.assert_recovered_once(server["id"], notifications.LOST,
                                   ("guest_hung",))

    @decorators.idempotent_id("0e7d4c52-6f3b-4f7e-9a0b-1b9d1b3f2a61")
    @decorators.attr(type="slow")
    def test_kernel_panic_is_crashed_at_once(self) -> None:
        # The default hw:heartbeat flavor: the driver adds a pvpanic
        # device, libvirt reports the panic, the verdict is
        # guest_crashed, without waiting for the heartbeat to time out.
        hb = CONF.heartbeat
        server = self.boot_guest(self.fault("panic"))
        verdict = self.verdicts.wait_for(server["id"], notifications.LOST,
                                         hb.verdict_timeout)
        self.assertEqual("guest_crashed", verdict.data.get("fault_class"),
                         dict(verdict.data))
        silent_for = float(verdict.data.get("silent_for") or 0.0)
        # From the panic to the verdict: less than the guest was silent.
        self.assertLess(silent_for, hb.interval + CRASH_MARGIN,
                        "silent %.1f s before the verdict: reported on the "
                        "crash, not on the silence" % silent_for)
        self.assertLess(silent_for, hb.interval * hb.failure_threshold)
        self.assert_recovered_once(server["id"], notifications.LOST,
                                   ("guest_crashed",), verdict=verdict)

    @decorators.idempotent_id("dc0293eb-3aa7-42e9-b430-d085f7cf259c")
    @decorators.attr(type="slow")
    def test_guest_request_is_recovered_once(self) -> None:
        # A request is not an episode: no heartbeat_restored follows it;
        # the guest is healthy again when no heartbeat_lost comes.
        server = self.boot_guest(self.fault("request-recovery"))
        self.assert_recovered_once(server["id"],
                                   notifications.RECOVERY_REQUESTED,
                                   ("guest_requested",))
