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

"""Verdicts an operator can let Masakari act on, on real TCG guests.

The standalone monitor judges real guests, and only what reaches the bus
counts:

* a storm of guest recovery requests gives exactly one
  ``recovery_requested`` (the guest's own budget);
* an agent that says hello and then answers nothing is reported within
  interval × threshold + 0.5 s of its hello (a hello ends the grace);
* a guest with neither agent gets ``agent_absent``, never ``guest_hung``;
* a restart of the monitor while a guest is hung sends no second
  ``heartbeat_lost``, and a guest that healed while the monitor was down
  gets its ``heartbeat_restored`` after the restart.
"""

from __future__ import annotations

import datetime
import json
import time
import typing

import pytest

from tests.functional.hypervisor import domains
from tests.functional.hypervisor import guests
from tests.functional.hypervisor import lab as lab_
from tests.functional.hypervisor.lab import Lab

#: Seconds of re-arm grace of this module's monitor: a restart is judged
#: again this soon.
REARM_GRACE = 5.0
#: The guests' boot grace (the operator's floor).
BOOT_GRACE = 30
#: Appended to every guest's kernel command line here: under TCG on a
#: loaded host, the kernel's IO-APIC timer check was seen to stall the
#: boot for good ("MP-BIOS bug: 8254 timer not connected to IO-APIC").
CMDLINE = "no_timer_check"
#: The boot grace of the guest whose hello must end it.
LONG_BOOT_GRACE = 600
#: Guest recovery requests sent in the storm.
STORM = 8
#: A hello line of our protocol, sent by a stand-in for the agent.
HELLO = json.dumps({"v": 1, "type": "hello", "min_v": 1,
                    "agent": "hello-only", "agent_version": "0.0",
                    "boot_id": "0f0e0d0c-hello-only"})
#: In the guest: open our port, say hello once, then say nothing.
SAY_HELLO_ONLY = (
    "import os, time\n"
    "port = os.open('/dev/virtio-ports/org.openstack.heartbeat.0', "
    "os.O_RDWR)\n"
    "os.write(port, b'\\xff' + %r.encode() + b'\\n')\n"
    "time.sleep(120)\n" % HELLO)


@pytest.fixture(scope="module")
def monitor_options() -> typing.Dict[str, typing.Dict[str, object]]:
    return {"heartbeat": {"rearm_grace": REARM_GRACE,
                          "min_boot_grace": BOOT_GRACE}}


def _logged_at(line: str) -> datetime.datetime:
    """When the monitor logged ``line`` (oslo.log's local time, ms)."""
    return datetime.datetime.strptime(
        line[:23], "%Y-%m-%d %H:%M:%S.%f").astimezone()


def _generated_at(received: typing.Any) -> datetime.datetime:
    return datetime.datetime.strptime(
        received.data["generated_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)


def test_a_request_storm_gives_one_recovery_requested(
        lab: Lab, guest_factory: guests.GuestFactory) -> None:
    guest = lab.healthy_guest(guest_factory, display_name="storm",
                              extra_cmdline=CMDLINE)
    uuid = guest.spec.uuid
    since = time.monotonic()
    # All at once: each a process of its own in the guest.
    script = " ".join(
        "python3 %s request-recovery --action reboot --reason storm-%d &"
        % (lab_.AGENT, n) for n in range(STORM)) + " wait"
    guest.run("/bin/sh", "-c", script, timeout=600)
    lab.bus.wait_for(uuid, lab_.RECOVERY_REQUESTED,
                     lab_.NOTIFICATION_TIMEOUT, since=since)
    time.sleep(lab_.DETECTION_TARGET)
    # Starting eight python3 at once can starve the guest's agents for a
    # few seconds (a true heartbeat_lost, then restored): only the
    # requests are counted here.
    got = [r.event_type for r in lab.bus.about(uuid, since)]
    assert got.count(lab_.RECOVERY_REQUESTED) == 1, got
    refusals = guest.console().count("one recovery request per")
    assert refusals == STORM - 1


def test_hello_then_silence_is_reported_within_the_target(
        lab: Lab, guest_factory: guests.GuestFactory) -> None:
    # A boot grace long enough for a loaded host: the hello must come
    # while it runs, and must end it.
    guest = guest_factory(display_name="hello-only",
                          extra_cmdline="hb.agent=0 " + CMDLINE,
                          heartbeat=domains.HeartbeatSettings(
                              boot_grace=LONG_BOOT_GRACE))
    uuid = guest.spec.uuid
    guest.wait_for_agent(lab_.BOOT_TIMEOUT)
    since, mark = time.monotonic(), lab.mark()
    guest.spawn("/usr/bin/python3", "-c", SAY_HELLO_ONLY)
    # Starting python3 in a TCG guest takes seconds (more on a loaded
    # host): the latency is measured from the hello, not from here.
    lost = lab.bus.wait_for(uuid, lab_.LOST, LONG_BOOT_GRACE / 2,
                            since=since)
    hellos = [line for line in lab.monitor.log()[mark:].splitlines()
              if uuid in line and "said hello" in line]
    assert hellos, "the monitor never logged the hello"
    latency = (_generated_at(lost) - _logged_at(hellos[0])).total_seconds()
    print("\nhello to heartbeat_lost: %.3f s (target %.1f s), %s"
          % (latency, lab_.DETECTION_TARGET, lost.data["fault_class"]))
    assert 0 < latency <= lab_.DETECTION_TARGET
    assert lost.data["fault_class"] == "agent_failure"  # QGA answers


def test_a_guest_with_neither_agent_is_agent_absent(
        lab: Lab, guest_factory: guests.GuestFactory) -> None:
    guest = guest_factory(display_name="no-agents",
                          extra_cmdline="hb.agent=0 hb.qga=0 " + CMDLINE)
    uuid = guest.spec.uuid
    since = time.monotonic()
    lost = lab.bus.wait_for(uuid, lab_.LOST, BOOT_GRACE + 60, since=since)
    assert lost.data["fault_class"] == "agent_absent"
    assert lost.data["severity"] == "warning"
    time.sleep(2 * lab_.DETECTION_TARGET)
    assert [(r.event_type, r.data["fault_class"])
            for r in lab.bus.about(uuid, since)] == [
        (lab_.LOST, "agent_absent")]


def _restarted(lab: Lab, guest: guests.Guest,
               meanwhile: typing.Callable[[], None] = lambda: None) -> float:
    """Stop the monitor, run ``meanwhile``, start it; when it started."""
    assert lab.monitor.stop() == 0
    meanwhile()
    started = time.monotonic()
    lab.monitor.start()
    return started


def _wait_logged(lab: Lab, mark: int, uuid: str, text: str,
                 timeout: float) -> None:
    """Wait for a line about ``uuid`` with ``text`` in the monitor's log."""
    deadline = time.monotonic() + timeout
    while not any(uuid in line and text in line
                  for line in lab.monitor.log()[mark:].splitlines()):
        assert time.monotonic() < deadline, "never logged: %s" % text
        time.sleep(0.2)


def _failed(lab: Lab, guest_factory: guests.GuestFactory, fault: str,
            ) -> typing.Tuple[guests.Guest, float, typing.Any]:
    """A healthy guest given ``fault``: it, when, and its heartbeat_lost."""
    guest = lab.healthy_guest(guest_factory, display_name=fault,
                              extra_cmdline=CMDLINE)
    since = time.monotonic()
    lab_.fault_tool(guest, fault)
    lost = lab.bus.wait_for(guest.spec.uuid, lab_.LOST,
                            lab_.NOTIFICATION_TIMEOUT, since=since)
    return guest, since, lost


def test_a_restart_while_hung_sends_no_second_lost(
        lab: Lab, guest_factory: guests.GuestFactory) -> None:
    guest, since, lost = _failed(lab, guest_factory, "hang")
    uuid = guest.spec.uuid
    assert lost.data["fault_class"] == "guest_hung"
    mark = lab.mark()
    _restarted(lab, guest)
    # The new monitor judges it failed again (after what is left of its
    # grace), and says nothing about it.
    _wait_logged(lab, mark, uuid, "-> failed", BOOT_GRACE + 60)
    time.sleep(lab_.DETECTION_TARGET)
    assert [r.event_type for r in lab.bus.about(uuid, since)] == [
        lab_.LOST]


def test_healed_while_the_monitor_was_down_is_restored(
        lab: Lab, guest_factory: guests.GuestFactory) -> None:
    guest, since, lost = _failed(lab, guest_factory, "agent-stop")
    uuid = guest.spec.uuid
    started = _restarted(
        lab, guest, meanwhile=lambda: lab_.fault_tool(guest, "agent-cont"))
    restored = lab.bus.wait_for(uuid, lab_.RESTORED,
                                lab_.NOTIFICATION_TIMEOUT, since=started)
    assert restored.data["episode"] == lost.data["episode"]
    time.sleep(lab_.DETECTION_TARGET)
    assert [r.event_type for r in lab.bus.about(uuid, since)] == [
        lab_.LOST, lab_.RESTORED]
