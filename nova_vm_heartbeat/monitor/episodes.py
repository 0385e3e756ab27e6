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

"""Episodes of an instance: numbered, reported once, delayed, never lost.

An episode starts with a heartbeat-lost or health-check-failed verdict
and ends with a restored verdict. A verdict of the kind already open is
not reported again until the episode ends or the guest boots anew.

Reports are rate limited per instance, and the limit only ever *delays*:
a verdict the bucket has no token for waits, in order, and goes out when
a token comes back (:meth:`Episodes.flush`, from every tick). An episode
that ends while its verdict still waits is *coalesced*: neither it nor
its restored verdict is sent (nothing was raised, nothing to clear), and
the count travels with the next report. So whatever the engine decided
last is always reported, and a restored verdict always follows the lost
one it ends. Restored verdicts are never held back.

:class:`EpisodeRecord` is what of this survives a restart of the monitor
(kept by the runtime in a small per-host state file): the episode count
and the open episode, so that a restart neither announces an open
episode again nor forgets to restore it.
"""

from __future__ import annotations

import collections
import dataclasses
import typing

from nova_vm_heartbeat.common.ratelimit import TokenBucket
from nova_vm_heartbeat.monitor import actions as act
from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor import verdicts as vd

#: Verdict kinds that stay open until a restored verdict closes them.
_LASTING = (vd.VerdictKind.HEARTBEAT_LOST, vd.VerdictKind.HEALTH_CHECK_FAILED)
#: Seconds between two attempts to send a verdict the limit held back.
RETRY = 1.0
_NEVER = float("inf")


@dataclasses.dataclass(frozen=True)
class EpisodeRecord:
    """What a restart keeps of an instance's episodes.

    :param number: the last episode number used.
    :param open_kind: the kind of the open (reported) episode, if any.
    :param open_fault: its fault class.
    :param open_episode: its number.
    :param same_boot: the guest has not booted since it opened.
    :param heard: something answered since the domain started.
    """

    number: int = 0
    open_kind: typing.Optional[vd.VerdictKind] = None
    open_fault: typing.Optional[vd.FaultClass] = None
    open_episode: int = 0
    same_boot: bool = True
    heard: bool = False


class Episodes:
    """The episode bookkeeping of one instance."""

    def __init__(self, bounds: Bounds,
                 record: typing.Optional[EpisodeRecord] = None):
        self.number = 0
        self._bucket = TokenBucket(1.0 / bounds.verdict_interval,
                                   bounds.verdict_burst)
        self._coalesced = 0
        self._pending: typing.Deque[vd.Verdict] = collections.deque()
        self._retry_at = _NEVER
        self._open: typing.Optional[vd.Verdict] = None
        self._open_boot = -1
        if record is not None:
            self._restore(record)

    def _restore(self, record: EpisodeRecord) -> None:
        self.number = record.number
        if record.open_kind is None or record.open_fault is None:
            return
        fault = record.open_fault
        self._open = vd.Verdict(
            kind=record.open_kind, fault_class=fault,
            severity=vd.SEVERITIES[fault], episode=record.open_episode,
            reason=vd.REASONS.get((record.open_kind, fault), ""))
        self._open_boot = 0 if record.same_boot else -1

    def record(self, boot: int, heard: bool) -> EpisodeRecord:
        """What to keep across a restart (only reported episodes)."""
        sent = self._open if self._open not in self._pending else None
        if sent is None:
            return EpisodeRecord(self.number, heard=heard)
        return EpisodeRecord(self.number, sent.kind, sent.fault_class,
                             sent.episode, self._open_boot == boot, heard)

    @property
    def open_fault(self) -> typing.Optional[vd.FaultClass]:
        return self._open.fault_class if self._open else None

    def is_open(self, kind: vd.VerdictKind, boot: int) -> bool:
        """Whether an episode of ``kind`` is open since boot ``boot``."""
        return (self._open is not None and self._open.kind is kind
                and self._open_boot == boot)

    def next_number(self) -> int:
        self.number += 1
        return self.number

    def next_deadline(self) -> float:
        """When a held-back verdict can next be tried."""
        return self._retry_at

    def open(self, now: float, verdict: vd.Verdict, boot: int,
             actions: typing.List[act.Action]) -> None:
        """Open a lasting episode with ``verdict``; report it when allowed.

        An episode still waiting to be reported that this one replaces
        is coalesced into it.
        """
        self._coalesce_open()
        self._open, self._open_boot = verdict, boot
        self._pending.append(verdict)
        self.flush(now, actions)

    def escalate(self, now: float, verdict: vd.Verdict,
                 actions: typing.List[act.Action]) -> None:
        """The open episode turned worse: report ``verdict`` for it.

        It keeps the episode's number; its restored verdict will carry
        the new fault class. Delayed by the limit like any other.
        """
        if self._open is None:
            return
        verdict = dataclasses.replace(verdict, episode=self._open.episode)
        if self._open in self._pending:
            self._pending[self._pending.index(self._open)] = verdict
        else:
            self._pending.append(verdict)
        self._open = verdict
        self.flush(now, actions)

    def flush(self, now: float, actions: typing.List[act.Action]) -> None:
        """Report what waits, in order, as far as the limit allows."""
        while self._pending:
            if not self._bucket.take(now):
                self._retry_at = now + RETRY
                return
            self._send(self._pending.popleft(), actions)
        self._retry_at = _NEVER

    def close(self, restored: vd.Verdict,
              actions: typing.List[act.Action],
              keep: typing.Optional[vd.VerdictKind] = None) -> None:
        """End the open episode, unless it is of kind ``keep``.

        ``restored`` is reported, numbered and classed after the episode
        it ends; an episode never reported ends silently (coalesced).
        """
        if self._open is None or self._open.kind is keep:
            return
        if self._coalesce_open():
            return
        ended, self._open = self._open, None
        self._send(dataclasses.replace(
            restored, episode=ended.episode, fault_class=ended.fault_class,
            reason=vd.REASONS[restored.kind, ended.fault_class],
            severity=vd.Severity.OK), actions)

    def _coalesce_open(self) -> bool:
        """Forget the open episode if it was never reported."""
        if self._open is None or self._open not in self._pending:
            return False
        self._pending.remove(self._open)
        self._open = None
        self._coalesced += 1
        if not self._pending:
            self._retry_at = _NEVER
        return True

    def _send(self, verdict: vd.Verdict,
              actions: typing.List[act.Action]) -> None:
        actions.append(act.Report(dataclasses.replace(
            verdict, suppressed=self._coalesced)))
        self._coalesced = 0
