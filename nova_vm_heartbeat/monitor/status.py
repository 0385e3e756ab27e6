"""A snapshot of how one instance is judged, for operators."""

from __future__ import annotations

import dataclasses
import typing

from nova_vm_heartbeat.monitor.probes import Probe
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor import verdicts as vd

if typing.TYPE_CHECKING:  # the machine builds these: no import cycle
    from nova_vm_heartbeat.monitor.machine import MonitorState


@dataclasses.dataclass(frozen=True)
class ChannelStatus:
    channel: sig.Channel
    usable: bool
    misses: int
    last_good_age: typing.Optional[float]
    rtt: typing.Optional[float]


@dataclasses.dataclass(frozen=True)
class Status:
    """A snapshot of one instance, for operators."""

    state: MonitorState
    fault_class: typing.Optional[vd.FaultClass]
    channels: typing.Tuple[ChannelStatus, ...]
    #: Suspension reasons and the seconds each has left.
    suspended: typing.Dict[str, float]
    episode: int
    violations: int
    #: Guest recovery requests and maintenance windows refused, ever.
    refused: int = 0


def channel_status(channel: sig.Channel, probe: Probe,
                   now: float) -> ChannelStatus:
    return ChannelStatus(
        channel=channel, usable=probe.usable, misses=probe.misses,
        last_good_age=(None if probe.last_good is None
                       else now - probe.last_good),
        rtt=probe.last_rtt)
