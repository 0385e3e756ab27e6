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

from tempest.lib import decorators

from nova_vm_heartbeat_tempest_plugin.common import notifications
from nova_vm_heartbeat_tempest_plugin.tests.scenario import base


class GuestRecoveryTest(base.HeartbeatScenarioTest):
    """A fault, a verdict, one Masakari recovery, the heartbeat back.

    heartbeat_lost or recovery_requested -> Masakari stop and start ->
    ACTIVE -> heartbeat_restored, exactly once.
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
    def test_kernel_panic_is_recovered(self) -> None:
        # Nova's guest XML has no panic device: the panicked guest falls
        # silent; hung or crashed, it must be recovered.
        server = self.boot_guest(self.fault("panic"))
        self.assert_recovered_once(server["id"], notifications.LOST,
                                   ("guest_hung", "guest_crashed"))

    @decorators.idempotent_id("dc0293eb-3aa7-42e9-b430-d085f7cf259c")
    @decorators.attr(type="slow")
    def test_guest_request_is_recovered_once(self) -> None:
        server = self.boot_guest(self.fault("request-recovery"))
        self.assert_recovered_once(server["id"],
                                   notifications.RECOVERY_REQUESTED,
                                   ("guest_requested",))
