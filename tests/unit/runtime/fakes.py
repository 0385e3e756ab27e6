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

"""Test doubles of the fleet's surroundings: channels and effects."""

from __future__ import annotations

import dataclasses
import typing

from nova_vm_heartbeat.monitor import actions as act
from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.protocol import events
from nova_vm_heartbeat.runtime.channel import ChannelCounters
from nova_vm_heartbeat.runtime.channel import ChannelSnapshot
from nova_vm_heartbeat.runtime.channel import ChannelState
from nova_vm_heartbeat.runtime import fleet as fleet_mod
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.runtime.session import Terms
from nova_vm_heartbeat.sources.base import InstanceInfo

SETTINGS = Settings(interval=1.0, timeout=0.5, failure_threshold=3,
                    boot_grace=10.0)
BOUNDS = Bounds(min_boot_grace=5.0, rearm_grace=5.0)
OPTIONS = RuntimeOptions(host="compute-1", bounds=BOUNDS, defaults=SETTINGS)


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def info(uuid: str, running: bool = True,
         uptime: typing.Optional[float] = None, socket: str = "/run/x.sock",
         settings: Settings = SETTINGS,
         display_name: str = "") -> InstanceInfo:
    return InstanceInfo(uuid=uuid, domain_name="instance-" + uuid,
                        settings=settings, heartbeat_socket=socket or None,
                        display_name=display_name, running=running,
                        uptime=uptime)


class FakeChannel:
    """Records what the fleet asks of a channel."""

    def __init__(self, info: InstanceInfo, terms: Terms,
                 deliver: fleet_mod.Deliver):
        self.info = info
        self.terms = terms
        self.deliver = deliver
        self.state = ChannelState.CLOSED
        self.starts = self.nudges = 0
        self.challenges: typing.List[int] = []
        self.acks: typing.List[act.SendAck] = []
        #: Answer every challenge at once, healthy.
        self.answering = True
        self.fail: typing.Optional[Exception] = None
        #: What snapshot() says about the session.
        self.established = False

    def start(self) -> None:
        self.starts += 1
        self.state = ChannelState.WAITING

    def close(self) -> None:
        self.state = ChannelState.CLOSED

    def nudge(self) -> None:
        self.nudges += 1

    def configure(self, terms: Terms) -> None:
        self.terms = terms

    def challenge(self, seq: int) -> None:
        if self.fail is not None:
            raise self.fail
        self.challenges.append(seq)
        if self.answering:
            self.deliver(sig.HeartbeatAnswered(seq, events.Health.OK))

    def ack(self, action: act.SendAck) -> None:
        self.acks.append(action)

    def snapshot(self) -> ChannelSnapshot:
        return ChannelSnapshot(self.state, self.established,
                               ChannelCounters(), 0, {})


@dataclasses.dataclass
class Effects:
    """Records what the fleet asks of the world."""

    channels: typing.Dict[str, FakeChannel] = dataclasses.field(
        default_factory=dict)
    syncs: typing.List[typing.Tuple[str, int, float]] = dataclasses.field(
        default_factory=list)
    reports: typing.List[typing.Tuple[str, vd.Verdict, str]] = \
        dataclasses.field(default_factory=list)
    forgotten: typing.List[str] = dataclasses.field(default_factory=list)
    sampled: typing.List[str] = dataclasses.field(default_factory=list)

    def open_channel(self, info: InstanceInfo, terms: Terms,
                     deliver: fleet_mod.Deliver) -> FakeChannel:
        channel = FakeChannel(info, terms, deliver)
        self.channels[info.uuid] = channel
        return channel

    def sync_agent(self, uuid: str, seq: int, timeout: float) -> None:
        self.syncs.append((uuid, seq, timeout))

    def report(self, info: InstanceInfo, verdict: vd.Verdict,
               state: str) -> None:
        self.reports.append((info.uuid, verdict, state))

    def forget(self, uuid: str) -> None:
        self.forgotten.append(uuid)

    def sample_stats(self, uuid: str) -> None:
        self.sampled.append(uuid)

    def kinds(self, uuid: str) -> typing.List[str]:
        return [v.kind.value for u, v, _ in self.reports if u == uuid]
