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

"""What the monitor concludes about an instance, and how bad it is.

A :class:`Verdict` is the outcome of one episode (a loss of heartbeat, a
failed health check, a recovery request) or of its end. The notification
layer turns it into a versioned notification; nothing here knows about
notifications, clocks or identities beyond what the machine observed.
"""

from __future__ import annotations

import dataclasses
import enum
import typing


class FaultClass(str, enum.Enum):
    """Why the instance is not healthy, decided from several signals."""

    #: Our heartbeat channel is silent while the QEMU guest agent answers:
    #: the guest runs, only our agent is gone.
    AGENT_FAILURE = "agent_failure"
    #: Every channel is silent while the guest's vCPUs still consume time.
    GUEST_HUNG = "guest_hung"
    #: The guest kernel panicked or libvirt reported the domain crashed.
    GUEST_CRASHED = "guest_crashed"
    #: The guest answers, but reports a failed component.
    APP_UNHEALTHY = "app_unhealthy"
    #: libvirt says running, but the vCPUs get no time at all: the QEMU
    #: process is stopped or not scheduled.
    VM_FROZEN = "vm_frozen"
    #: The guest asked to be recovered.
    GUEST_REQUESTED = "guest_requested"
    #: Nothing ever answered on any channel since the domain started: the
    #: image has no agent (or it never came up). Not evidence of a fault
    #: in the guest, so not a recovery trigger by default.
    AGENT_ABSENT = "agent_absent"


class VerdictKind(str, enum.Enum):
    """The notification-worthy outcomes; values are the event types."""

    HEARTBEAT_LOST = "instance.heartbeat_lost"
    HEARTBEAT_RESTORED = "instance.heartbeat_restored"
    HEALTH_CHECK_FAILED = "instance.health_check_failed"
    RECOVERY_REQUESTED = "instance.recovery_requested"


class Severity(str, enum.Enum):
    """How urgent a verdict is (Vitrage's alarm severities)."""

    OK = "ok"
    WARNING = "warning"
    MAJOR = "major"
    CRITICAL = "critical"


#: The severity each fault class carries.
SEVERITIES: typing.Dict[FaultClass, Severity] = {
    FaultClass.AGENT_FAILURE: Severity.WARNING,
    FaultClass.GUEST_HUNG: Severity.CRITICAL,
    FaultClass.GUEST_CRASHED: Severity.CRITICAL,
    FaultClass.APP_UNHEALTHY: Severity.MAJOR,
    FaultClass.VM_FROZEN: Severity.CRITICAL,
    FaultClass.GUEST_REQUESTED: Severity.MAJOR,
    FaultClass.AGENT_ABSENT: Severity.WARNING,
}


@dataclasses.dataclass(frozen=True)
class FailedComponent:
    """A component the guest reported failed, as evidence."""

    name: str
    reason: str
    progress: typing.Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One conclusion about one instance, ready to be reported.

    ``episode`` numbers the episodes of an instance; a restored verdict
    carries the number and fault class of the episode it ends.
    """

    kind: VerdictKind
    fault_class: FaultClass
    severity: Severity
    episode: int
    #: Human-readable summary for operators.
    reason: str
    #: Seconds since the last good answer on any channel (None: never).
    silent_for: typing.Optional[float] = None
    #: Challenges missed in a row on the channel that decided.
    missed: int = 0
    #: Channels the instance was judged by (``heartbeat``, ``qga``).
    channels: typing.Tuple[str, ...] = ()
    components: typing.Tuple[FailedComponent, ...] = ()
    #: For recovery requests: what the guest asked for.
    requested_action: typing.Optional[str] = None
    #: Episodes of this instance that the rate limit held back and that
    #: ended (or were superseded) before they could be reported, since the
    #: last report: coalesced into this one, never silently dropped.
    suppressed: int = 0
    #: The id consumers drop duplicates by. The machine leaves it empty;
    #: the runtime derives it from the instance, the episode and the kind
    #: (stable across redelivery and restarts).
    verdict_id: str = ""


#: The operator-facing summary of each verdict.
REASONS: typing.Dict[typing.Tuple[VerdictKind, FaultClass], str] = {
    (VerdictKind.HEARTBEAT_LOST, FaultClass.AGENT_FAILURE):
        "the heartbeat agent stopped answering; the guest itself runs",
    (VerdictKind.HEARTBEAT_LOST, FaultClass.GUEST_HUNG):
        "no channel answers while the guest's vCPUs keep running",
    (VerdictKind.HEARTBEAT_LOST, FaultClass.GUEST_CRASHED):
        "the guest crashed (libvirt crash or guest panic event)",
    (VerdictKind.HEARTBEAT_LOST, FaultClass.VM_FROZEN):
        "the domain is running but its vCPUs get no CPU time",
    (VerdictKind.HEARTBEAT_LOST, FaultClass.AGENT_ABSENT):
        "no channel has answered since the domain started (no agent?)",
    (VerdictKind.HEALTH_CHECK_FAILED, FaultClass.APP_UNHEALTHY):
        "the guest reports a failed component",
    (VerdictKind.RECOVERY_REQUESTED, FaultClass.GUEST_REQUESTED):
        "the guest asked to be recovered",
}
REASONS.update({
    (VerdictKind.HEARTBEAT_RESTORED, fault):
        "answers are back after %s" % fault.value
    for fault in FaultClass})
#: ``guest_hung`` when the domain's CPU time could not be read: the vCPUs
#: may as well be stopped.
HUNG_WITHOUT_CPU_TIME = ("no channel answers; the vCPU time could not be "
                         "read, so a stopped QEMU process is not ruled out")


def reason(kind: VerdictKind, fault: FaultClass,
           cpu_known: bool = True) -> str:
    """The operator-facing summary of a verdict."""
    if (kind is VerdictKind.HEARTBEAT_LOST and fault is FaultClass.GUEST_HUNG
            and not cpu_known):
        return HUNG_WITHOUT_CPU_TIME
    return REASONS[kind, fault]
