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

"""Smoke test of the hypervisor tier: a real guest boots with both agents,
answers heartbeats, and says bye when it reboots."""

from __future__ import annotations

import time
import typing

from nova_vm_heartbeat import protocol
from tests.functional.hypervisor import guests
from tests.functional.hypervisor import heartbeat

#: Seconds a TCG guest gets to boot and answer (it takes about 10).
BOOT_TIMEOUT = 60.0


def test_guest_boots_answers_and_reboots(
        guest_factory: guests.GuestFactory,
        record_property: typing.Callable[[str, object], None]) -> None:
    guest = guest_factory(display_name="smoke")

    qga_seconds = guest.wait_for_agent(BOOT_TIMEOUT)
    host = heartbeat.HostEnd.connect(guest.spec.heartbeat_socket)
    try:
        hello, response = host.establish(BOOT_TIMEOUT - qga_seconds)
        boot_seconds = time.monotonic() - guest.started_at
        print("boot to first heartbeat: %.1f s (qemu-ga answered after "
              "%.1f s)" % (boot_seconds, qga_seconds))
        record_property("boot_to_first_heartbeat_s", round(boot_seconds, 2))
        assert response.health is protocol.Health.OK
        assert hello.agent == "nova-vm-heartbeat-guest"

        assert guest.run("/usr/sbin/hb-reboot").exitcode == 0
        bye = host.expect(protocol.Bye, timeout=30)
        assert bye.reason is protocol.ByeReason.REBOOT

        again, _ = host.establish(BOOT_TIMEOUT)
        assert again.boot_id != hello.boot_id
        guest.wait_for_agent(BOOT_TIMEOUT)
    finally:
        host.close()
