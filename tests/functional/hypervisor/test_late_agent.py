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

"""A guest whose qemu-ga answers long before our agent starts.

Seen on a real cloud with the previous engine: qemu-ga answered first,
the boot grace ended on that answer, and a slow-starting heartbeat agent
was reported ``agent_failure`` once, about 18 s later. While our channel
is expected, the boot grace ends on our agent's hello or on its own
timer, never on a QGA answer.

The guest boots with ``hb.agent=0`` (its /init starts qemu-ga only);
the test starts the agent through qemu-ga well after qemu-ga first
answered, still within the boot grace, and then wants a healthy guest
and not one notification.
"""

from __future__ import annotations

import secrets
import time

from tests.functional.hypervisor import domains
from tests.functional.hypervisor import guests
from tests.functional.hypervisor import lab as lab_
from tests.functional.hypervisor.lab import Lab

#: Seconds between qemu-ga's first answer and the start of our agent:
#: past the ~18 s after which the false agent_failure came.
AGENT_LATE_BY = 25.0
#: The guest's boot grace (its <hb:heartbeat>): longer than its boot
#: (~15 s under TCG, over 60 s on a loaded host) plus AGENT_LATE_BY plus
#: the agent's own start.
BOOT_GRACE = 400
#: How long qemu-ga may take to answer after the start: a TCG boot takes
#: 15 s on a quiet host, and was seen to take minutes on a loaded one.
QGA_WITHIN = 300.0
#: Seconds our agent may take to start and say hello (python3 under TCG).
AGENT_STARTS_WITHIN = 120.0
#: In the guest: start the agent as /init would have (functions.sh).
START_AGENT = (". /usr/lib/nova-vm-heartbeat/functions.sh; parse_cmdline; "
               "OPT_AGENT=1; start_agent")


def test_a_late_agent_is_no_agent_failure(
        lab: Lab, guest_factory: guests.GuestFactory) -> None:
    mark = lab.mark()
    guest = guest_factory(
        name="hblate-%08x" % secrets.randbits(32), display_name="late-agent",
        extra_cmdline="hb.agent=0 no_timer_check",
        heartbeat=domains.HeartbeatSettings(boot_grace=BOOT_GRACE))
    qga_after = guest.wait_for_agent(timeout=QGA_WITHIN)
    answered = time.monotonic()
    print("qemu-ga answered %.1f s after the start" % qga_after)
    time.sleep(max(0.0, answered + AGENT_LATE_BY - time.monotonic()))
    assert lab.bus.about(guest.spec.uuid) == [], "before our agent started"
    result = guest.run("/bin/sh", "-c", START_AGENT)
    assert result.exitcode == 0, result
    took = lab.wait_healthy(guest, mark, timeout=AGENT_STARTS_WITHIN,
                            hello=True)
    print("healthy %.1f s after the agent's start" % took)
    lab.quiet(guest, since=0.0, window=lab_.DETECTION_TARGET)
