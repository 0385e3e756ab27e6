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

"""The monitor's numbers as Prometheus metric families, made per scrape.

A scrape asks the monitor loop for a
:class:`~nova_vm_heartbeat.runtime.telemetry.Snapshot` (a copy taken on
the loop, within :data:`SCRAPE_TIMEOUT`) and describes it. If the loop
does not answer, the scrape still succeeds, with
``nova_vm_heartbeat_up 0`` alone: an alert can tell a stuck monitor from
a missing one.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import typing

from prometheus_client import core
from prometheus_client import registry

from nova_vm_heartbeat.monitor.machine import MonitorState
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.protocol import REMOTE_ERROR_KINDS
from nova_vm_heartbeat.runtime.telemetry import ABUSE_KINDS
from nova_vm_heartbeat.runtime.telemetry import Histogram
from nova_vm_heartbeat.runtime.telemetry import Snapshot

PREFIX = "nova_vm_heartbeat_"
#: Seconds the loop has to produce a snapshot.
SCRAPE_TIMEOUT = 5.0

Snapshotter = typing.Callable[[float], Snapshot]
Family = core.Metric


class Collector(registry.Collector):
    """Describes the monitor's telemetry at every scrape.

    :param snapshot: takes a timeout, returns a snapshot
        (``MonitorService.telemetry``).
    :param per_instance: one round-trip histogram per instance and
        channel, or one per channel.
    """

    def __init__(self, snapshot: Snapshotter, per_instance: bool = True):
        self._snapshot = snapshot
        self.per_instance = per_instance

    def collect(self) -> typing.Iterable[Family]:
        try:
            snap = self._snapshot(SCRAPE_TIMEOUT)
        except concurrent.futures.TimeoutError:
            yield _up(0)
            return
        yield _up(1)
        yield _states(snap)
        yield self._round_trips(snap)
        yield from _counters(snap)
        yield _abuse(snap, self.per_instance)
        yield _histogram("loop_lag_seconds", "How late the monitor loop "
                         "ticked its most overdue instance.", [],
                         {(): snap.loop_lag})
        yield core.GaugeMetricFamily(
            PREFIX + "loop_lag_max_seconds", "The largest loop lag seen "
            "since the monitor started.", value=snap.loop_lag_max)
        if snap.outbox_depth is not None:
            yield core.GaugeMetricFamily(
                PREFIX + "outbox_depth", "Notifications waiting in the "
                "outbox for the message bus.", value=snap.outbox_depth)

    def _round_trips(self, snap: Snapshot) -> Family:
        help_text = "Round trip of answered challenges, by channel."
        if self.per_instance:
            return _histogram("round_trip_seconds", help_text,
                              ["instance_uuid", "channel"],
                              snap.round_trips)
        merged: typing.Dict[typing.Tuple[str, ...], Histogram] = {}
        for (_, channel), histogram in snap.round_trips.items():
            total = merged.get((channel,))
            if total is None:
                merged[channel, ] = histogram.copy()
            else:
                total.add(histogram)
        return _histogram("round_trip_seconds", help_text, ["channel"],
                          merged)


def _up(value: int) -> Family:
    return core.GaugeMetricFamily(
        PREFIX + "up", "1 if the monitor loop answered this scrape.",
        value=value)


def _states(snap: Snapshot) -> Family:
    family = core.GaugeMetricFamily(
        PREFIX + "instances", "Monitored instances, by state.",
        labels=["state"])
    for state in MonitorState:
        family.add_metric([state.value], snap.states.get(state.value, 0))
    return family


def _counters(snap: Snapshot) -> typing.Iterator[Family]:
    yield core.CounterMetricFamily(
        PREFIX + "missed_heartbeats", "Challenges not answered within "
        "their timeout, all instances and channels.", value=snap.missed)
    verdicts = core.CounterMetricFamily(
        PREFIX + "verdicts", "Verdicts reported, by kind and fault class.",
        labels=["kind", "fault_class"])
    for kind, fault in itertools.product(vd.VerdictKind, vd.FaultClass):
        verdicts.add_metric([kind.value, fault.value], snap.verdicts.get(
            (kind.value, fault.value), 0))
    yield verdicts
    errors = core.CounterMetricFamily(
        PREFIX + "protocol_errors", "Invalid input from guests, by kind.",
        labels=["kind"])
    kinds = sorted(set(REMOTE_ERROR_KINDS) | set(snap.protocol_errors))
    for error in kinds:
        errors.add_metric([error], snap.protocol_errors.get(error, 0))
    yield errors
    yield core.CounterMetricFamily(
        PREFIX + "loop_stalls", "Times the whole monitor process was "
        "stalled (every instance forgave the lost time).",
        value=snap.stalls)
    yield core.CounterMetricFamily(
        PREFIX + "signals_dropped", "Signals dropped because the monitor "
        "loop was hopelessly behind.", value=snap.dropped)
    yield core.CounterMetricFamily(
        PREFIX + "loop_cpu_seconds", "CPU time of the monitor loop's "
        "thread.", value=snap.cpu_seconds)


def _abuse(snap: Snapshot, per_instance: bool) -> Family:
    """What guests did to the host; per instance only for those with any."""
    help_text = ("What guests did to the host: invalid input (rejected), "
                 "reads paused over the CPU or the byte budget.")
    if per_instance:
        family = core.CounterMetricFamily(PREFIX + "guest_abuse", help_text,
                                          labels=["instance_uuid", "kind"])
        for uuid, counts in sorted(snap.abuse.items()):
            for kind, count in sorted(counts.items()):
                family.add_metric([uuid, kind], count)
        return family
    family = core.CounterMetricFamily(PREFIX + "guest_abuse", help_text,
                                      labels=["kind"])
    for kind in ABUSE_KINDS:
        family.add_metric([kind], sum(c.get(kind, 0)
                                      for c in snap.abuse.values()))
    return family


def _histogram(name: str, help_text: str, labels: typing.List[str],
               series: typing.Mapping[typing.Any, Histogram],
               ) -> Family:
    family = core.HistogramMetricFamily(PREFIX + name, help_text,
                                        labels=labels)
    for values, histogram in series.items():
        cumulative = list(itertools.accumulate(histogram.counts))
        bounds = [repr(float(b)) for b in histogram.bounds] + ["+Inf"]
        family.add_metric(list(values), list(zip(bounds, cumulative)),
                          histogram.total)
    return family
