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

"""A provider of statuses and telemetry, standing in for the service."""

from __future__ import annotations

import concurrent.futures
import typing

from nova_vm_heartbeat.monitor.machine import MonitorState
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor.status import ChannelStatus
from nova_vm_heartbeat.monitor.status import Status
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.runtime.channel import ChannelCounters
from nova_vm_heartbeat.runtime.channel import ChannelSnapshot
from nova_vm_heartbeat.runtime.channel import ChannelState
from nova_vm_heartbeat.runtime.fleet import InstanceStatus
from nova_vm_heartbeat.runtime.telemetry import Snapshot
from nova_vm_heartbeat.runtime.telemetry import Telemetry

HEALTHY = InstanceStatus(
    uuid="11111111-1111-4111-8111-111111111111",
    domain_name="instance-00000001", display_name="web-1",
    status=Status(
        state=MonitorState.HEALTHY, fault_class=None,
        channels=(ChannelStatus(sig.Channel.HEARTBEAT, True, 0, 0.4, 0.0012),
                  ChannelStatus(sig.Channel.QGA, True, 0, 0.9, 0.0031)),
        suspended={}, episode=0, violations=0),
    channel=ChannelSnapshot(ChannelState.CONNECTED, True,
                            ChannelCounters(connects=1), 0, {}))
FAILED = InstanceStatus(
    uuid="22222222-2222-4222-8222-222222222222",
    domain_name="instance-00000002", display_name="",
    status=Status(
        state=MonitorState.FAILED, fault_class=vd.FaultClass.GUEST_HUNG,
        channels=(ChannelStatus(sig.Channel.HEARTBEAT, True, 4, 125.0,
                                0.002),),
        suspended={}, episode=3, violations=2),
    channel=ChannelSnapshot(ChannelState.CONNECTED, False,
                            ChannelCounters(connects=1, cpu_throttled=3),
                            0, {"invalid_json": 5000, "too_deep": 12}))
SUSPENDED = InstanceStatus(
    uuid="33333333-3333-4333-8333-333333333333",
    domain_name="instance-00000003", display_name="db-1",
    status=Status(
        state=MonitorState.SUSPENDED, fault_class=None,
        channels=(ChannelStatus(sig.Channel.HEARTBEAT, False, 0, None,
                                None),),
        suspended={"operation:snapshot": 3540.0}, episode=0,
        violations=0))


class Provider:
    """Answers like ``MonitorService``; ``stuck`` makes it time out."""

    def __init__(self, statuses: typing.Sequence[InstanceStatus] = (
            HEALTHY, FAILED, SUSPENDED)):
        self.instances = list(statuses)
        self.stuck = False
        self.telemetry_ = Telemetry()
        self.telemetry_.round_trip(HEALTHY.uuid, "heartbeat", 0.0012)
        self.telemetry_.missed = 7
        self.telemetry_.verdicts["instance.heartbeat_lost",
                                 "guest_hung"] = 1
        self.telemetry_.protocol_errors["invalid_json"] = 2
        self.telemetry_.lag(0.003)

    def statuses(self, timeout: float = 1.0) -> typing.List[InstanceStatus]:
        if self.stuck:
            raise concurrent.futures.TimeoutError()
        return list(self.instances)

    def telemetry(self, timeout: float = 1.0,
                  round_trips: bool = True) -> Snapshot:
        if self.stuck:
            raise concurrent.futures.TimeoutError()
        return self.telemetry_.snapshot(
            {"healthy": 1, "failed": 1, "suspended": 1}, round_trips,
            stalls=1, dropped=0, cpu_seconds=1.5, outbox_depth=4,
            abuse={s.uuid: s.channel.abuse() for s in self.instances
                   if s.channel is not None and s.channel.abuse()})
