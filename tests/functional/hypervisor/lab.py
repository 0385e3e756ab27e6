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

"""Real faults in real guests, and what the monitor says about them.

The fault-matrix tests, ``benchmarks/detection.py`` and the demo share
this: :class:`Lab` holds the standalone monitor process, a listener on
the bus and a way to start guests; :data:`FAULTS` says how each
detectable fault is injected (from the host, never by calling the
monitor), what the monitor must publish about it, and how the guest gets
well again where it can.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import signal
import time
import typing

from tests.functional.hypervisor import guests
from tests.functional.hypervisor import monitor as mon

LOST = "instance.heartbeat_lost"
RESTORED = "instance.heartbeat_restored"
HEALTH_CHECK_FAILED = "instance.health_check_failed"
RECOVERY_REQUESTED = "instance.recovery_requested"

#: The heartbeat settings of the test guests (their <hb:heartbeat>).
INTERVAL = 1.0
FAILURE_THRESHOLD = 3
#: DESIGN.md §7: a hung guest is reported within interval × threshold
#: + 0.5 s.
DETECTION_TARGET = INTERVAL * FAILURE_THRESHOLD + 0.5
#: How long a test waits for a notification before it fails: well past
#: the target, so that a slow detection is measured and reported rather
#: than cut off.
NOTIFICATION_TIMEOUT = 30.0
#: Seconds a TCG guest gets to boot and be judged healthy (it takes 15).
BOOT_TIMEOUT = 90.0
#: Seconds to watch the bus after an operation that must raise nothing.
QUIET_WINDOW = 3 * DETECTION_TARGET

#: In the guest image (tools/guest-image).
FAULT_TOOL = "/usr/sbin/hb-fault"
PYTHON = "/usr/bin/python3"
AGENT = "/usr/lib/nova-vm-heartbeat/agent.pyz"


def _log_prefix(guest: guests.Guest) -> str:
    """How the monitor's log lines about the guest begin."""
    return "Instance %s (%s): " % (guest.spec.uuid, guest.name)


class Lab:
    """The monitor under test, the bus, and the guests it watches."""

    def __init__(self, monitor: mon.MonitorProcess, bus: mon.BusWatcher):
        self.monitor = monitor
        self.bus = bus

    def healthy_guest(self, start: guests.GuestFactory,
                      **fields: typing.Any) -> guests.Guest:
        """Start a guest and wait until the monitor judges it healthy."""
        (guest,) = self.healthy_guests(start, 1, **fields)
        return guest

    def healthy_guests(self, start: guests.GuestFactory, count: int,
                       **fields: typing.Any) -> typing.List[guests.Guest]:
        """Start ``count`` guests at once; wait until all are healthy."""
        mark = self.mark()
        started = [start(**fields) for _ in range(count)]
        for guest in started:
            self.wait_healthy(guest, mark, hello=True)
        return started

    def mark(self) -> int:
        """A position in the monitor's log, for :meth:`wait_healthy`."""
        return len(self.monitor.log())

    def wait_healthy(self, guest: guests.Guest, mark: int,
                     timeout: float = BOOT_TIMEOUT,
                     hello: bool = False) -> float:
        """Wait until the monitor judges the guest healthy.

        That is, for "-> healthy" about it in the monitor's log after
        position ``mark`` and, with ``hello`` (after a boot, or a new
        monitor), for our agent's hello too: QGA alone can make an
        instance healthy. Returns the seconds it took.
        """
        started = time.monotonic()
        wanted = _log_prefix(guest)
        needed = ["-> healthy"]
        if hello and guest.spec.heartbeat_channel:
            needed.append("said hello")
        deadline = started + timeout
        while True:
            log = self.monitor.log()[mark:]
            lines = [line for line in log.splitlines() if wanted in line]
            if all(any(text in line for line in lines) for text in needed):
                return time.monotonic() - started
            if not self.monitor.alive():
                raise AssertionError("the monitor died:\n%s" % log[-4000:])
            if time.monotonic() > deadline:
                raise AssertionError(
                    "the monitor did not judge %s healthy within %g s; its "
                    "log about it:\n%s\nconsole:\n%s" % (
                        guest.name, timeout,
                        "\n".join(line for line in log.splitlines()
                                  if guest.spec.uuid in line),
                        guest.console()[-3000:]))
            time.sleep(0.2)

    def quiet(self, guest: guests.Guest, since: float,
              window: float = QUIET_WINDOW) -> None:
        """Nothing about the guest arrives for ``window`` seconds."""
        time.sleep(window)
        noise = [(r.event_type, r.data.get("fault_class"), r.data["reason"])
                 for r in self.bus.about(guest.spec.uuid, since)]
        assert noise == [], "false alarm about %s: %s" % (guest.name, noise)


def qemu_pid(guest: guests.Guest) -> int:
    """The guest's QEMU process, from libvirt's pid file."""
    path = pathlib.Path("/run/libvirt/qemu/%s.pid" % guest.name)
    return int(path.read_text().strip())


def guest_cli(guest: guests.Guest, *args: str) -> None:
    """Run the guest agent's CLI in the guest; it must succeed."""
    result = guest.run(PYTHON, AGENT, *args, timeout=60)
    assert result.exitcode == 0, "%s failed: %r" % (args, result)


def fault_tool(guest: guests.Guest, fault: str) -> None:
    result = guest.run(FAULT_TOOL, fault)
    assert result.exitcode == 0, "hb-fault %s failed: %r" % (fault, result)


@dataclasses.dataclass(frozen=True)
class Fault:
    """One detectable fault: how to cause it, and what must follow."""

    name: str
    #: The event type and the fault classes the monitor may publish.
    event_type: str
    fault_classes: typing.FrozenSet[str]
    #: Injects the fault; returns time.monotonic() of the moment the
    #: fault took effect, as near as the host can tell.
    inject: typing.Callable[[guests.Guest], float]
    #: Makes the guest well again, or None when it cannot be (it is
    #: hung, crashed or destroyed).
    heal: typing.Optional[typing.Callable[[guests.Guest], None]] = None
    #: DomainSpec fields of the guest it needs.
    guest: typing.Mapping[str, typing.Any] = dataclasses.field(
        default_factory=dict)
    #: What the latency is measured from.
    measured_from: str = "the injection command"

    @property
    def heals(self) -> bool:
        return self.heal is not None


def _before(action: typing.Callable[[guests.Guest], None],
            ) -> typing.Callable[[guests.Guest], float]:
    """Time the fault from the start of the command that causes it."""
    def inject(guest: guests.Guest) -> float:
        at = time.monotonic()
        action(guest)
        return at
    return inject


def _tool(fault: str) -> typing.Callable[[guests.Guest], None]:
    return lambda guest: fault_tool(guest, fault)


def _hang(guest: guests.Guest) -> float:
    """Both agents stop together, one second after the command starts."""
    at = time.monotonic()
    fault_tool(guest, "hang")
    return at + 1.0


def _panic(guest: guests.Guest) -> None:
    # The command never finishes: the kernel is gone.
    guest.spawn(FAULT_TOOL, "panic")


def _signal_qemu(signum: int) -> typing.Callable[[guests.Guest], None]:
    return lambda guest: os.kill(qemu_pid(guest), signum)


#: The TTL of a component that is not meant to lapse.
LONG_TTL = 3600


def _notify(status: str, ttl: int = LONG_TTL,
            ) -> typing.Callable[[guests.Guest], None]:
    """Report the ``database`` component (registering it, with ``ttl``)."""
    args = ["notify", "--component", "database", "--status", status,
            "--reason", "replication broken" if status == "failed"
            else "caught up", "--ttl", str(ttl)]
    return lambda guest: guest_cli(guest, *args)


def _ttl_lapses(ttl: int) -> typing.Callable[[guests.Guest], float]:
    """Report once with a TTL, then never again.

    The component counts as failed ``ttl`` seconds after the report.
    """
    def inject(guest: guests.Guest) -> float:
        at = time.monotonic()
        _notify("ok", ttl)(guest)
        return at + ttl
    return inject


def _request_recovery(guest: guests.Guest) -> None:
    guest_cli(guest, "request-recovery", "--action", "reboot",
              "--reason", "the application asked for a reboot")


HANG = "agent and qemu-ga stopped"
#: The guest's report is timed from the start of the guest-exec of the
#: agent's CLI: an upper bound, since it includes starting python3 in the
#: guest (1 to 3 s under TCG) before the report is sent.
_GUEST_CLI = "start of the guest CLI"
FAULTS: typing.Tuple[Fault, ...] = (
    Fault("agent killed (-9)", LOST, frozenset({"agent_failure"}),
          _before(_tool("agent-kill")), heal=_tool("agent-start")),
    Fault("agent stopped (SIGSTOP)", LOST, frozenset({"agent_failure"}),
          _before(_tool("agent-stop")), heal=_tool("agent-cont")),
    Fault(HANG, LOST, frozenset({"guest_hung"}), _hang,
          measured_from="the stop (1 s after the command)"),
    Fault("kernel panic (pvpanic)", LOST, frozenset({"guest_crashed"}),
          _before(_panic), guest={"panic": True}),
    Fault("kernel panic (no panic device)", LOST,
          frozenset({"guest_crashed", "guest_hung"}),
          _before(_panic), guest={"panic": False}),
    Fault("QEMU stopped (SIGSTOP)", LOST, frozenset({"vm_frozen"}),
          _before(_signal_qemu(signal.SIGSTOP)),
          heal=_signal_qemu(signal.SIGCONT)),
    Fault("component failed", HEALTH_CHECK_FAILED,
          frozenset({"app_unhealthy"}), _before(_notify("failed")),
          heal=_notify("ok"), measured_from=_GUEST_CLI),
    Fault("component TTL lapsed", HEALTH_CHECK_FAILED,
          frozenset({"app_unhealthy"}), _ttl_lapses(5),
          heal=_notify("ok"), measured_from=_GUEST_CLI + " + TTL"),
    Fault("guest requested recovery", RECOVERY_REQUESTED,
          frozenset({"guest_requested"}), _before(_request_recovery),
          measured_from=_GUEST_CLI),
)
BY_NAME = {fault.name: fault for fault in FAULTS}


@dataclasses.dataclass(frozen=True)
class Detection:
    """What one injected fault led to."""

    fault: str
    fault_class: str
    latency: float
    received: mon.Received


def detect(lab: Lab, guest: guests.Guest, fault: Fault) -> Detection:
    """Inject ``fault`` and wait for its notification; check it."""
    since = time.monotonic()
    at = fault.inject(guest)
    received = lab.bus.wait_for(guest.spec.uuid, fault.event_type,
                                NOTIFICATION_TIMEOUT + max(0, at - since),
                                since=since)
    data = received.data
    assert data["fault_class"] in fault.fault_classes, (
        "%s: fault class %s, expected one of %s (reason: %s)" % (
            fault.name, data["fault_class"], sorted(fault.fault_classes),
            data["reason"]))
    assert received.publisher_id == "nova-compute:%s" % mon.HOST
    assert data["host"] == mon.HOST
    assert data["display_name"] == guest.spec.display_name
    earlier = [r.event_type for r in lab.bus.about(guest.spec.uuid, since)
               if r.arrived < received.arrived]
    assert earlier == [], "%s: before the verdict came %s" % (
        fault.name, earlier)
    return Detection(fault.name, data["fault_class"],
                     received.arrived - at, received)


def heal(lab: Lab, guest: guests.Guest, fault: Fault,
         detection: Detection) -> mon.Received:
    """Heal the guest; the monitor must say it is restored."""
    assert fault.heal is not None
    since = time.monotonic()
    fault.heal(guest)
    restored = lab.bus.wait_for(guest.spec.uuid, RESTORED,
                                NOTIFICATION_TIMEOUT, since=since)
    assert restored.data["episode"] == detection.received.data["episode"]
    return restored


# -- operations that must raise no alarm -------------------------------------

#: Seconds a benign operation keeps the guest quiet: longer than the
#: monitor needs to declare a lost heartbeat.
OPERATION_SECONDS = 2 * DETECTION_TARGET


@dataclasses.dataclass(frozen=True)
class Operation:
    """Something that makes a healthy guest go quiet for a good reason."""

    name: str
    #: Carries it out, and waits until the guest is healthy again (or,
    #: for an operation that ends the guest, until it is gone).
    run: typing.Callable[[Lab, guests.Guest], None]
    #: The guest does not come back (it was shut down or destroyed).
    ends_guest: bool = False
    #: It needs a guest with a data disk (fsfreeze).
    needs_disk: bool = False


def _suspend_resume(lab: Lab, guest: guests.Guest) -> None:
    guest.domain.suspend()
    time.sleep(OPERATION_SECONDS)
    mark = lab.mark()
    guest.domain.resume()
    lab.wait_healthy(guest, mark)


def _reboot(lab: Lab, guest: guests.Guest) -> None:
    mark = lab.mark()
    assert guest.run("/usr/sbin/hb-reboot").exitcode == 0
    lab.wait_healthy(guest, mark, hello=True)


def _maintenance(lab: Lab, guest: guests.Guest) -> None:
    """A maintenance window the guest asked for, then silence.

    The guest asks for 30 s (the clamp allows an hour), then its agent
    stops answering for a while.
    """
    guest_cli(guest, "maintenance", "--duration", "30",
              "--reason", "database upgrade")
    fault_tool(guest, "agent-stop")
    time.sleep(OPERATION_SECONDS)
    fault_tool(guest, "agent-cont")
    guest_cli(guest, "maintenance", "--end")


def _fsfreeze(lab: Lab, guest: guests.Guest) -> None:
    """As Nova's snapshot quiesce does, through libvirt and qemu-ga."""
    assert guest.domain.fsFreeze() >= 1
    try:
        time.sleep(OPERATION_SECONDS)
    finally:
        assert guest.domain.fsThaw() >= 1


def _shutdown(lab: Lab, guest: guests.Guest) -> None:
    assert guest.run("/usr/sbin/hb-poweroff").exitcode == 0
    guest.wait_for_state(guest.libvirt.VIR_DOMAIN_SHUTOFF)


def _destroy(lab: Lab, guest: guests.Guest) -> None:
    guest.domain.destroy()


BENIGN: typing.Tuple[Operation, ...] = (
    Operation("suspend and resume", _suspend_resume),
    Operation("reboot from inside", _reboot),
    Operation("maintenance window", _maintenance),
    Operation("filesystem freeze and thaw", _fsfreeze, needs_disk=True),
    Operation("clean shutdown", _shutdown, ends_guest=True),
    Operation("destroyed by the operator", _destroy, ends_guest=True),
)


def false_alarms(lab: Lab, guest: guests.Guest, operation: Operation,
                 ) -> typing.List[mon.Received]:
    """Carry out ``operation``; what the bus said about the guest."""
    since = time.monotonic()
    operation.run(lab, guest)
    time.sleep(QUIET_WINDOW)
    return lab.bus.about(guest.spec.uuid, since)
