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

"""A discrete-event simulation of one instance around an InstanceMonitor.

The simulated guest answers challenges on each channel while it is
alive there; time jumps from one deadline to the next, so a whole scenario
runs in microseconds and reads as a story.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import typing

from nova_vm_heartbeat.monitor import actions as act
from nova_vm_heartbeat.monitor.episodes import EpisodeRecord
from nova_vm_heartbeat.monitor.machine import InstanceMonitor
from nova_vm_heartbeat.monitor.machine import MonitorState
from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.monitor.requests import HostRequestBudget
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.protocol import events

FAST = Settings(interval=1.0, timeout=1.0, failure_threshold=3,
                boot_grace=30.0, heartbeat=True, qga=True)
#: Seconds between two samples of the domain's counters.
STATS_PERIOD = 0.5
BOUNDS = Bounds(min_boot_grace=5.0, rearm_grace=5.0, max_lifecycle=60.0,
                max_operation=120.0, max_maintenance=300)


@dataclasses.dataclass
class Guest:
    """What the simulated guest does."""

    heartbeat: bool = True
    qga: bool = True
    health: events.Health = events.Health.OK
    components: typing.Tuple[events.Component, ...] = ()
    #: vCPU seconds used per second; None: stats unavailable.
    cpu_rate: typing.Optional[float] = 0.05
    io_rate: int = 20
    rtt: float = 0.002
    #: How libvirt fails QGA syncs (None: they succeed while qga is on).
    qga_error: typing.Optional[sig.AgentError] = None


class Sim:
    """Drives an InstanceMonitor with a simulated guest and clock."""

    def __init__(self, settings: Settings = FAST, bounds: Bounds = BOUNDS,
                 guest: typing.Optional[Guest] = None,
                 uptime: typing.Optional[float] = None,
                 greet: bool = True,
                 record: typing.Optional[EpisodeRecord] = None,
                 requests: typing.Optional[HostRequestBudget] = None,
                 stats_offset: float = 0.0, spread: float = 1.0):
        self.now = 1000.0
        self.guest = guest or Guest()
        self.monitor = InstanceMonitor(settings, bounds, self.now,
                                       uptime=uptime, record=record,
                                       requests=requests, spread=spread)
        self.reports: typing.List[typing.Tuple[float, vd.Verdict]] = []
        self.acks: typing.List[act.SendAck] = []
        #: When each QGA challenge was sent.
        self.qga_syncs: typing.List[float] = []
        self._queue: typing.List[typing.Tuple[float, int, sig.Signal]] = []
        self._order = itertools.count()
        self._cpu = 0.0
        self._io = 0
        #: The runtime's sampling timer is not aligned with challenges.
        self._next_stats = self.now + stats_offset
        if greet:
            self.signal(sig.AgentGreeted("boot-1"))

    def state(self) -> MonitorState:
        """The monitor's state (a call, so type checkers do not narrow)."""
        return self.monitor.state

    @property
    def verdicts(self) -> typing.List[vd.Verdict]:
        return [verdict for _, verdict in self.reports]

    def kinds(self) -> typing.List[typing.Tuple[str, str]]:
        return [(v.kind.value, v.fault_class.value) for v in self.verdicts]

    def signal(self, signal: sig.Signal) -> None:
        self._apply(self.monitor.handle(self.now, signal))

    def later(self, delay: float, signal: sig.Signal) -> None:
        heapq.heappush(self._queue,
                       (self.now + delay, next(self._order), signal))

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        stuck = 0
        while True:
            queued = self._queue[0][0] if self._queue else float("inf")
            step = min(self.monitor.next_deadline(), queued,
                       self._next_stats, end)
            stuck = stuck + 1 if step <= self.now else 0
            assert stuck < 100, "next_deadline() stays in the past"
            self.now = max(self.now, step)
            if step == end:
                self._apply(self.monitor.tick(self.now))
                return
            if step == queued:
                self.signal(heapq.heappop(self._queue)[2])
            elif step == self._next_stats:
                self._sample()
            else:
                self._apply(self.monitor.tick(self.now))

    def _sample(self) -> None:
        """The guest's counters grow; the runtime samples them when asked.

        As the runtime does, statistics reach the monitor only while it
        says a verdict may be near (:meth:`deciding_soon`).
        """
        rate = self.guest.cpu_rate
        if rate is not None:
            self._cpu += rate * STATS_PERIOD
            self._io += int(self.guest.io_rate * STATS_PERIOD)
        self._next_stats = self.now + STATS_PERIOD
        if not self.monitor.deciding_soon(self.now):
            return
        self.signal(sig.DomainStats(self._cpu if rate is not None else None,
                                    self._io if rate is not None else None))

    def _apply(self, actions: typing.List[act.Action]) -> None:
        for action in actions:
            if isinstance(action, act.Report):
                self.reports.append((self.now, action.verdict))
            elif isinstance(action, act.SendAck):
                self.acks.append(action)
            elif isinstance(action, act.SendChallenge):
                if self.guest.heartbeat:
                    self.later(self.guest.rtt, sig.HeartbeatAnswered(
                        action.seq, self.guest.health,
                        self.guest.components))
            elif isinstance(action, act.SyncAgent):
                self.qga_syncs.append(self.now)
                if self.guest.qga_error is not None:
                    self.later(self.guest.rtt, sig.QgaFailed(
                        action.seq, self.guest.qga_error))
                elif self.guest.qga:
                    self.later(self.guest.rtt, sig.QgaAnswered(action.seq))
