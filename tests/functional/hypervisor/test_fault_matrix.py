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

"""The fault matrix: real faults in real guests, judged by the real monitor.

``nova-vm-heartbeat-monitor`` runs as a process on ``qemu:///system``
with the messaging sink on a real RabbitMQ; guests are TCG domains shaped
like Nova's, running qemu-ga and our agent. Faults are injected from the
host (guest-exec, libvirt, signals to QEMU), and the monitor is judged by
what arrives on the bus only:

* every detectable fault gives exactly one notification with the right
  event type and fault class, and a guest that gets well gets a
  ``heartbeat_restored``; the detection latency of each is recorded;
* the operations that make a healthy guest go quiet for good reasons
  give none (zero false positives), and two steady guests that live
  through the whole module never get a notification they were not
  meant to.

Every case's latency is written to ``build/hypervisor/detections.json``.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import time
import typing

import pytest

from tests.functional.fixtures import RabbitMQ
from tests.functional.hypervisor import guests
from tests.functional.hypervisor import host
from tests.functional.hypervisor import lab as lab_
from tests.functional.hypervisor.lab import Lab

#: Where the detection latencies go.
REPORT = host.TOP / "build" / "hypervisor" / "detections.json"
#: The data disk of the steady guest (fsfreeze needs a file system).
DISK_BYTES = 16 * 1024 * 1024


class Steady(typing.NamedTuple):
    """Two guests that live through the module; what each may receive."""

    plain: guests.Guest
    with_disk: guests.Guest
    #: Event types each may get (by uuid), appended to by the tests
    #: that cause them; anything else is a false alarm.
    allowed: typing.Dict[str, typing.List[str]]


@pytest.fixture(scope="module")
def detections() -> typing.Iterator[typing.List[lab_.Detection]]:
    found: typing.List[lab_.Detection] = []
    yield found
    if not found:
        return
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps([
        {"fault": d.fault, "fault_class": d.fault_class,
         "latency_s": round(d.latency, 3)} for d in found], indent=2))
    print("\ndetection latency (target %.1f s for lost heartbeats):"
          % lab_.DETECTION_TARGET)
    for d in found:
        print("  %-32s %-16s %6.2f s" % (d.fault, d.fault_class, d.latency))


@pytest.fixture(scope="module")
def steady(lab: Lab, module_guest_factory: guests.GuestFactory,
           workdir: pathlib.Path) -> typing.Iterator[Steady]:
    disk = workdir / "steady-data.img"
    with disk.open("wb") as image:
        image.truncate(DISK_BYTES)
    mark = lab.mark()
    plain = module_guest_factory(display_name="steady-plain")
    with_disk = module_guest_factory(display_name="steady-disk", disk=disk)
    for guest in (plain, with_disk):
        lab.wait_healthy(guest, mark, hello=True)
    allowed: typing.Dict[str, typing.List[str]] = {
        plain.spec.uuid: [], with_disk.spec.uuid: []}
    yield Steady(plain, with_disk, allowed)
    for guest in (plain, with_disk):
        got = [r.event_type for r in lab.bus.about(guest.spec.uuid)]
        assert got == allowed[guest.spec.uuid], (
            "false alarm about steady guest %s: %s"
            % (guest.name, [(r.event_type, r.data["fault_class"],
                             r.data["reason"])
                            for r in lab.bus.about(guest.spec.uuid)]))


def _ids(fault: lab_.Fault) -> str:
    return fault.name.replace(" ", "-")


# -- must be detected ------------------------------------------------------


@pytest.mark.parametrize("fault", lab_.FAULTS, ids=_ids)
def test_fault_is_detected(lab: Lab, steady: Steady,
                           guest_factory: guests.GuestFactory,
                           detections: typing.List[lab_.Detection],
                           fault: lab_.Fault,
                           record_property: typing.Callable[[str, object],
                                                            None]) -> None:
    guest = lab.healthy_guest(guest_factory, display_name="fault",
                              **fault.guest)
    detection = lab_.detect(lab, guest, fault)
    detections.append(detection)
    record_property("fault_class", detection.fault_class)
    record_property("latency_s", round(detection.latency, 3))
    if fault.event_type == lab_.LOST:
        assert detection.latency <= lab_.NOTIFICATION_TIMEOUT
    if fault.heals:
        lab_.heal(lab, guest, fault, detection)
        events = [r.event_type for r in lab.bus.about(guest.spec.uuid)]
        assert events == [fault.event_type, lab_.RESTORED]
        lab.quiet(guest, since=time.monotonic(), window=2.0)
    else:
        time.sleep(lab_.DETECTION_TARGET)
        events = [r.event_type for r in lab.bus.about(guest.spec.uuid)]
        assert events == [fault.event_type], "one verdict per episode"


# -- must not raise an alarm -----------------------------------------------


def _name(operation: lab_.Operation) -> str:
    return operation.name.replace(" ", "-")


@pytest.mark.parametrize("operation", lab_.BENIGN, ids=_name)
def test_no_alarm(lab: Lab, steady: Steady,
                  guest_factory: guests.GuestFactory,
                  operation: lab_.Operation) -> None:
    if operation.ends_guest:
        guest = lab.healthy_guest(guest_factory, display_name="benign")
    else:
        guest = steady.with_disk if operation.needs_disk else steady.plain
    noise = lab_.false_alarms(lab, guest, operation)
    assert noise == [], "false alarm: %s" % [
        (r.event_type, r.data["fault_class"], r.data["reason"])
        for r in noise]


def test_monitor_restarted(lab: Lab, steady: Steady) -> None:
    since, mark = time.monotonic(), lab.mark()
    lab.monitor.restart()
    for guest in steady[:2]:
        lab.wait_healthy(guest, mark, hello=True)
    for guest in steady[:2]:
        lab.quiet(guest, since, window=1.0)


def _restart_libvirtd() -> None:
    pid = int(pathlib.Path("/run/libvirtd.pid").read_text().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while pathlib.Path("/proc/%d" % pid).exists():
        assert time.monotonic() < deadline, "libvirtd did not stop"
        time.sleep(0.1)
    subprocess.run([str(host.PREPARE_HOST)], check=True,
                   stdout=subprocess.DEVNULL)


def test_libvirtd_restarted(lab: Lab, steady: Steady,
                            libvirt_modules: guests.Libvirt,
                            libvirt_connection: guests.Connection) -> None:
    since = time.monotonic()
    _restart_libvirtd()
    connection = libvirt_connection.reopen()
    for guest in steady[:2]:
        guest.rebind(connection)
        assert guest.state()[0] == libvirt_modules.libvirt.VIR_DOMAIN_RUNNING
    for guest in steady[:2]:
        lab.quiet(guest, since, window=lab_.QUIET_WINDOW / 2)
    lab.monitor.wait_for_log("libvirt events from qemu:///system are back",
                             timeout=30)
    # Still judged, and classified: the QGA challenge made at the first
    # miss goes over a connection that learns of the restart only then.
    lab_.fault_tool(steady.plain, "agent-stop")
    lost = lab.bus.wait_for(steady.plain.spec.uuid, lab_.LOST,
                            lab_.NOTIFICATION_TIMEOUT)
    assert lost.data["fault_class"] == "agent_failure", lost.data["reason"]
    lab_.fault_tool(steady.plain, "agent-cont")
    lab.bus.wait_for(steady.plain.spec.uuid, lab_.RESTORED,
                     lab_.NOTIFICATION_TIMEOUT)
    steady.allowed[steady.plain.spec.uuid] += [lab_.LOST, lab_.RESTORED]
    # Each connection that broke was opened again, when it was next used.
    log = lab.monitor.log(since_start=True)
    broke = set(re.findall(r"connection for (.+?) to qemu:///system broke",
                           log))
    assert "QEMU guest agent calls" in broke, log[-4000:]
    for purpose in broke:
        assert "again for %s" % purpose in log, (purpose, log[-4000:])


def test_rabbitmq_restarted(lab: Lab, steady: Steady,
                            module_broker: RabbitMQ) -> None:
    """A verdict made while the broker is down arrives after, once."""
    module_broker.require_control()
    guest = steady.with_disk
    uuid = guest.spec.uuid
    before = len(lab.bus.about(uuid))
    with module_broker.outage(whole_node=True):
        lab_.guest_cli(guest, "notify", "--component", "database",
                       "--status", "failed", "--reason", "broker test",
                       "--ttl", str(lab_.LONG_TTL))
        time.sleep(lab_.DETECTION_TARGET)
        assert len(lab.bus.about(uuid)) == before
    came_back = time.monotonic()
    failed = lab.bus.wait_for(uuid, lab_.HEALTH_CHECK_FAILED,
                              lab_.NOTIFICATION_TIMEOUT)
    print("the verdict made during the outage arrived %.2f s after the "
          "broker was back" % (failed.arrived - came_back))
    lab_.guest_cli(guest, "notify", "--component", "database",
                   "--status", "ok", "--ttl", str(lab_.LONG_TTL))
    lab.bus.wait_for(uuid, lab_.RESTORED, lab_.NOTIFICATION_TIMEOUT)
    steady.allowed[uuid] += [lab_.HEALTH_CHECK_FAILED, lab_.RESTORED]
    time.sleep(2.0)
    assert [r.event_type for r in lab.bus.about(uuid)][before:] \
        == [lab_.HEALTH_CHECK_FAILED, lab_.RESTORED]
    for other in steady[:2]:
        if other is not guest:
            lab.quiet(other, since=came_back, window=0)
