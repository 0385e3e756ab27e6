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

"""What the monitor observes about an instance: its inputs.

Adapters (channel sockets, the QGA executor, libvirt events and stats,
the Nova driver) translate what they see into these frozen objects and
hand them to :meth:`.machine.InstanceMonitor.handle`. Times are seconds on
the caller's monotonic clock.
"""

from __future__ import annotations

import dataclasses
import enum
import typing

from nova_vm_heartbeat.protocol import events


class Channel(str, enum.Enum):
    """The two ways into a guest."""

    #: Our line-delimited JSON virtio-serial channel.
    HEARTBEAT = "heartbeat"
    #: The QEMU guest agent, through libvirt.
    QGA = "qga"


class AgentError(str, enum.Enum):
    """Why a QGA challenge failed, as classified by the adapter."""

    #: The agent did not answer in time: counts as a miss.
    UNRESPONSIVE = "unresponsive"
    #: The agent's channel is not connected in the guest: counts as a miss.
    NOT_CONNECTED = "not_connected"
    #: The domain is not running: no judgement, lifecycle will tell.
    DOMAIN_NOT_RUNNING = "domain_not_running"
    #: Another job holds the agent (e.g. Nova's quiesce): not a miss.
    BUSY = "busy"
    #: Anything else (libvirtd gone, ...): not the guest's fault.
    HOST_ERROR = "host_error"
    #: Not made: no worker was free in time (other guests' agents hold
    #: them). The agent's state is unknown, not the guest's fault.
    NOT_SAMPLED = "not_sampled"


class Lifecycle(str, enum.Enum):
    """Domain lifecycle as libvirt reports it, reduced to what matters."""

    #: The domain (re)started: a new boot.
    STARTED = "started"
    #: Paused (by an operator, a migration, a snapshot, an I/O error).
    PAUSED = "paused"
    #: Running again after a pause.
    RESUMED = "resumed"
    #: The guest rebooted (a reset inside the same QEMU process).
    REBOOTED = "rebooted"
    #: A shutdown is in progress (ACPI or guest initiated).
    SHUTTING_DOWN = "shutting_down"
    #: The domain stopped (shut off, destroyed, migrated away, saved).
    STOPPED = "stopped"
    #: The guest crashed (kernel panic through pvpanic, or QEMU crashed).
    CRASHED = "crashed"


#: Whether the domain runs after each lifecycle event (absent: the event
#: does not tell). The one table the runtime, the Nova driver and the
#: machine read: a crashed domain no longer runs guest code (libvirt keeps
#: it crashed, paused or destroys it, per ``on_crash``).
RUNS_AFTER: typing.Dict[Lifecycle, bool] = {
    Lifecycle.STARTED: True,
    Lifecycle.RESUMED: True,
    Lifecycle.REBOOTED: True,
    Lifecycle.PAUSED: False,
    Lifecycle.STOPPED: False,
    Lifecycle.CRASHED: False,
}


class Operation(str, enum.Enum):
    """Platform operations that make a healthy guest go quiet."""

    REBOOT = "reboot"
    POWER_OFF = "power_off"
    POWER_ON = "power_on"
    PAUSE = "pause"
    SUSPEND = "suspend"
    RESUME = "resume"
    RESCUE = "rescue"
    SNAPSHOT = "snapshot"
    QUIESCE = "quiesce"
    LIVE_MIGRATION = "live_migration"
    COLD_MIGRATION = "cold_migration"
    RESIZE = "resize"
    SHELVE = "shelve"
    SET_ADMIN_PASSWORD = "set_admin_password"
    DESTROY = "destroy"


@dataclasses.dataclass(frozen=True)
class HeartbeatAnswered:
    """The guest agent answered challenge ``seq``."""

    seq: int
    health: events.Health
    components: typing.Tuple[events.Component, ...] = ()


@dataclasses.dataclass(frozen=True)
class HealthReported:
    """The guest agent reported a health change on its own."""

    health: events.Health
    components: typing.Tuple[events.Component, ...] = ()


@dataclasses.dataclass(frozen=True)
class AgentGreeted:
    """The guest agent said hello (a new agent session)."""

    boot_id: str = ""


@dataclasses.dataclass(frozen=True)
class AgentLeft:
    """The guest agent said bye."""

    reason: events.ByeReason


@dataclasses.dataclass(frozen=True)
class MaintenanceRequested:
    """The guest asked for ``duration`` seconds of silence (0 ends it)."""

    duration: int
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class RecoveryRequested:
    """The guest asked to be rebooted or stopped."""

    action: events.RecoveryAction
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class ChannelConnected:
    """The host side of ``channel`` is connected (socket open)."""

    channel: Channel


@dataclasses.dataclass(frozen=True)
class ChannelLost:
    """The host side of ``channel`` went away (socket closed)."""

    channel: Channel
    #: QEMU closed the socket (end of stream, reset): it is exiting or
    #: restarting. A hung guest never causes this.
    closed_by_qemu: bool = False


@dataclasses.dataclass(frozen=True)
class ProtocolViolation:
    """The guest sent something invalid (already counted and dropped).

    Coalesced: ``count`` pieces of invalid input, ``kind`` the commonest,
    ``by_kind`` the counts of every kind (empty: ``count`` of ``kind``).
    """

    kind: str
    count: int = 1
    by_kind: typing.Tuple[typing.Tuple[str, int], ...] = ()


@dataclasses.dataclass(frozen=True)
class QgaAnswered:
    """QGA echoed the id of the sync of challenge ``seq``.

    The runtime picks a random id per sync and checks the echo.
    """

    seq: int


@dataclasses.dataclass(frozen=True)
class QgaFailed:
    """The QGA sync of challenge ``seq`` failed; ``error`` says how."""

    seq: int
    error: AgentError


@dataclasses.dataclass(frozen=True)
class QgaLifecycle:
    """libvirt's agent-lifecycle event: the guest opened/closed QGA."""

    connected: bool


@dataclasses.dataclass(frozen=True)
class DomainEvent:
    """A libvirt lifecycle event of the domain."""

    lifecycle: Lifecycle
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class DomainStats:
    """Cumulative counters of the domain, sampled by the adapter.

    ``cpu_time`` is the vCPU time in seconds; ``io_ops`` the sum of block
    and network request counters. None means "not available".
    """

    cpu_time: typing.Optional[float] = None
    io_ops: typing.Optional[int] = None


@dataclasses.dataclass(frozen=True)
class OperationStarted:
    """The platform started an operation on the instance."""

    operation: Operation


@dataclasses.dataclass(frozen=True)
class OperationFinished:
    """The operation ended (successfully or not)."""

    operation: Operation


Signal = typing.Union[
    HeartbeatAnswered, HealthReported, AgentGreeted, AgentLeft,
    MaintenanceRequested, RecoveryRequested, ChannelConnected, ChannelLost,
    ProtocolViolation, QgaAnswered, QgaFailed, QgaLifecycle, DomainEvent,
    DomainStats, OperationStarted, OperationFinished,
]
