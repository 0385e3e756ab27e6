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

"""Deciding the fault class of a lost heartbeat from every signal.

The rules, in order (the first that applies wins):

1. libvirt reported a crash or a guest panic: ``guest_crashed``.
2. Our heartbeat channel is silent but QGA answers now (within the last
   interval and timeout), or the agent told us it was stopping:
   ``agent_failure``.
3. The vCPUs got (almost) no time at the end of the silence although
   libvirt says the domain runs: ``vm_frozen`` (QEMU stopped or starved).
   What counts is the last interval of it (at least
   :data:`EVIDENCE_SPAN`): a QEMU process stopped after its guest hung is
   a stopped QEMU, whatever its vCPUs did before.
4. Nothing ever answered, on any channel, since the domain started: no
   agent to hear from, which says nothing about the guest:
   ``agent_absent``.
5. Block or network requests kept flowing during the window and no QGA
   is there to ask (or its latest challenge could not say, because of a
   host-side error or a busy pool: that is no evidence either way): the
   guest runs, the agent does not: ``agent_failure``.
6. Otherwise, the guest's vCPUs run (or nothing tells) but nothing
   answers: ``guest_hung``.

The CPU evidence is sampled while the silence lasts (the runtime starts
when a challenge is half its timeout late, see
``InstanceMonitor.deciding_soon``). A verdict whose silence has samples,
but less than :data:`EVIDENCE_SPAN` seconds of them, waits for more, up
to :data:`EVIDENCE_WAIT` seconds past its deadline: with a short timeout
and a threshold of 2, the deadline can come before two samples do.
"""

from __future__ import annotations

import collections
import dataclasses
import typing

from nova_vm_heartbeat.monitor.verdicts import FaultClass

#: Below this share of one CPU over the silence window, vCPUs are frozen.
#: An idle guest's timer interrupts alone cost more than this.
FROZEN_CPU_SHARE = 0.001

#: Seconds of CPU samples a silence verdict wants before it is decided.
EVIDENCE_SPAN = 1.0

#: The longest a silence verdict waits past its deadline for
#: :data:`EVIDENCE_SPAN` (then it is decided with what there is).
EVIDENCE_WAIT = 2.0

#: Samples kept per instance.
MAX_SAMPLES = 64


@dataclasses.dataclass(frozen=True)
class Sample:
    at: float
    cpu_time: typing.Optional[float]
    io_ops: typing.Optional[int]


class StatsHistory:
    """A short, bounded history of a domain's cumulative counters."""

    def __init__(self) -> None:
        self._samples: typing.Deque[Sample] = collections.deque(
            maxlen=MAX_SAMPLES)

    def add(self, sample: Sample) -> None:
        self._samples.append(sample)

    def clear(self) -> None:
        self._samples.clear()

    def deltas(self, since: float,
               span: typing.Optional[float] = None) -> typing.Tuple[
            typing.Optional[float], typing.Optional[float],
            typing.Optional[int]]:
        """Return (seconds covered by the vCPU time, vCPU seconds, I/O).

        I/O requests from the oldest sample at or after ``since`` to the
        newest. The vCPU time over the trailing ``span`` of that window:
        from the newest sample back to the latest one at least ``span``
        older (or the oldest, if none is). None where the counters do not
        tell.
        """
        window = [s for s in self._samples if s.at >= since]
        if len(window) < 2:
            return None, None, None
        first, last = window[0], window[-1]
        start = first
        if span is not None:
            for sample in window:
                if sample.at > last.at - span:
                    break
                start = sample
        return (last.at - start.at, _delta(start.cpu_time, last.cpu_time),
                _delta(first.io_ops, last.io_ops))

    def span_since(self, since: float) -> typing.Optional[float]:
        """Seconds between the first and the last sample since ``since``.

        None when there is none: nothing was sampled (no statistics).
        """
        first = last = None
        for sample in self._samples:
            if sample.at >= since:
                first = sample if first is None else first
                last = sample
        if first is None or last is None:
            return None
        return last.at - first.at


_T = typing.TypeVar("_T", int, float)


def _delta(first: typing.Optional[_T],
           last: typing.Optional[_T]) -> typing.Optional[_T]:
    if first is None or last is None or last < first:
        return None
    return last - first


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What is known about an instance when its heartbeat is lost."""

    crashed: bool = False
    #: The heartbeat channel (ours) was the one that went silent.
    heartbeat_silent: bool = True
    #: QGA is configured for the instance.
    qga_configured: bool = False
    #: QGA answered its latest challenge (it is alive now).
    qga_recent: bool = False
    #: QGA's latest challenge said nothing of the agent (host error).
    qga_unknown: bool = False
    #: The guest agent said it was stopping (bye agent_stop).
    agent_stopped: bool = False
    #: Something answered on some channel since the domain started.
    heard: bool = True
    #: Seconds covered by the vCPU time (the end of the silence).
    stats_window: typing.Optional[float] = None
    cpu_used: typing.Optional[float] = None
    io_ops: typing.Optional[int] = None


def classify(evidence: Evidence) -> FaultClass:
    """The fault class of a lost heartbeat (rules in the module doc)."""
    if evidence.crashed:
        return FaultClass.GUEST_CRASHED
    if evidence.heartbeat_silent and (evidence.qga_recent
                                      or evidence.agent_stopped):
        return FaultClass.AGENT_FAILURE
    window = evidence.stats_window
    if window and evidence.cpu_used is not None \
            and evidence.cpu_used < FROZEN_CPU_SHARE * window:
        return FaultClass.VM_FROZEN
    if not evidence.heard:
        return FaultClass.AGENT_ABSENT
    if evidence.heartbeat_silent and evidence.io_ops and (
            not evidence.qga_configured or evidence.qga_unknown):
        return FaultClass.AGENT_FAILURE
    return FaultClass.GUEST_HUNG
