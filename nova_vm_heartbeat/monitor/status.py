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
