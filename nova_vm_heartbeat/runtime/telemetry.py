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

"""What the monitor loop counts for operators, and snapshots of it.

:class:`Telemetry` lives on the monitor thread and is updated there, in
plain Python integers: a counter costs an addition, whether or not
anything reads it. Readers (the metrics exporter, the admin endpoint)
never touch it from their own thread; they ask the loop for a
:class:`Snapshot` (:meth:`~.service.MonitorService.telemetry`), a copy
that is theirs to read at leisure.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import typing

#: Upper bounds, in seconds, of the round-trip histogram's buckets (a
#: last, unbounded bucket follows). A guest agent answers in about a
#: millisecond; QGA through libvirt in a few.
RTT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
               1.0, 2.5, 5.0)
#: Upper bounds, in seconds, of the loop-lag histogram's buckets.
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Histogram:
    """Bucket counts (not cumulative), a sum and a count."""

    __slots__ = ("bounds", "counts", "total", "count")

    def __init__(self, bounds: typing.Sequence[float]):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def copy(self) -> Histogram:
        other = Histogram(self.bounds)
        other.counts, other.total, other.count = \
            list(self.counts), self.total, self.count
        return other

    def add(self, other: Histogram) -> None:
        """Add ``other``'s observations (same bounds) to this one."""
        for index, count in enumerate(other.counts):
            self.counts[index] += count
        self.total += other.total
        self.count += other.count


#: What a guest did to the host: pieces of invalid input it sent, times
#: its reads were paused over its CPU budget, over its byte budget.
ABUSE_KINDS = ("rejected", "cpu_budget", "read_budget")

#: (instance uuid, channel) -> round trips of that channel
RttKey = typing.Tuple[str, str]


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The monitor's numbers at one moment; a copy, safe on any thread."""

    #: Monitored instances by state.
    states: typing.Dict[str, int]
    round_trips: typing.Dict[RttKey, Histogram]
    #: Challenges that went unanswered within their timeout, all channels.
    missed: int
    #: Verdicts reported, by (kind, fault class).
    verdicts: typing.Dict[typing.Tuple[str, str], int]
    #: Invalid guest input, by kind.
    protocol_errors: typing.Dict[str, int]
    #: How late the loop ticked the most overdue instance.
    loop_lag: Histogram
    #: The largest loop lag seen.
    loop_lag_max: float
    #: Times the loop found the whole process stalled.
    stalls: int = 0
    #: Signals dropped because the loop was hopelessly behind.
    dropped: int = 0
    #: CPU seconds of the monitor thread.
    cpu_seconds: float = 0.0
    #: Notifications waiting in the sink's outbox (None: it has none).
    outbox_depth: typing.Optional[int] = None
    #: uuid -> abuse kind (:data:`ABUSE_KINDS`) -> count, for the
    #: instances with any.
    abuse: typing.Dict[str, typing.Dict[str, int]] = dataclasses.field(
        default_factory=dict)


class Telemetry:
    """The loop's counters. Not thread safe: the monitor thread only."""

    def __init__(self) -> None:
        self.missed = 0
        self.verdicts: typing.Counter[typing.Tuple[str, str]] = \
            collections.Counter()
        self.protocol_errors: typing.Counter[str] = collections.Counter()
        self.loop_lag = Histogram(LAG_BUCKETS)
        self.loop_lag_max = 0.0
        #: uuid -> channel -> round trips
        self._rtt: typing.Dict[str, typing.Dict[str, Histogram]] = {}

    def round_trip(self, uuid: str, channel: str, seconds: float) -> None:
        channels = self._rtt.get(uuid)
        if channels is None:
            channels = self._rtt[uuid] = {}
        histogram = channels.get(channel)
        if histogram is None:
            histogram = channels[channel] = Histogram(RTT_BUCKETS)
        histogram.observe(seconds)

    def forget(self, uuid: str) -> None:
        """The instance is no longer monitored: drop its series."""
        self._rtt.pop(uuid, None)

    def lag(self, seconds: float) -> None:
        self.loop_lag.observe(seconds)
        if seconds > self.loop_lag_max:
            self.loop_lag_max = seconds

    def snapshot(self, states: typing.Dict[str, int],
                 round_trips: bool = True, **extra: typing.Any) -> Snapshot:
        """A copy of the counters, with the current ``states``.

        :param round_trips: copy the round-trip histograms (one per
            instance and channel: the bulk of the copy).
        """
        return Snapshot(
            states=states,
            round_trips={(uuid, channel): h.copy()
                         for uuid, channels in self._rtt.items()
                         for channel, h in channels.items()
                         } if round_trips else {},
            missed=self.missed, verdicts=dict(self.verdicts),
            protocol_errors=dict(self.protocol_errors),
            loop_lag=self.loop_lag.copy(), loop_lag_max=self.loop_lag_max,
            **extra)
