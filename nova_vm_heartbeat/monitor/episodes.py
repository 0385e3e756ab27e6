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

"""Episodes of an instance: numbered, reported once, rate limited.

An episode starts with a heartbeat-lost, health-check-failed or recovery
request verdict and (for the first two) ends with a restored verdict. A
verdict of the kind already open is not reported again until the episode
ends or the guest boots anew. Reports are rate limited per instance;
what the limit drops is counted and the count travels with the next
report. A restored verdict is never dropped: it closes an alarm that
was raised.
"""

from __future__ import annotations

import dataclasses
import typing

from nova_vm_heartbeat.monitor import actions as act
from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.protocol.ratelimit import TokenBucket

#: Verdict kinds that stay open until a restored verdict closes them.
_LASTING = (vd.VerdictKind.HEARTBEAT_LOST, vd.VerdictKind.HEALTH_CHECK_FAILED)


class Episodes:
    """The episode bookkeeping of one instance."""

    def __init__(self, bounds: Bounds):
        self.number = 0
        self._bucket = TokenBucket(1.0 / bounds.verdict_interval,
                                   bounds.verdict_burst)
        self._suppressed = 0
        self._open: typing.Optional[vd.Verdict] = None
        self._open_boot = -1

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

    def report(self, now: float, verdict: vd.Verdict, boot: int,
               actions: typing.List[act.Action]) -> bool:
        """Report ``verdict`` unless the rate limit drops it."""
        if not self._bucket.take(now):
            self._suppressed += 1
            return False
        actions.append(act.Report(dataclasses.replace(
            verdict, suppressed=self._suppressed)))
        self._suppressed = 0
        if verdict.kind in _LASTING:
            self._open, self._open_boot = verdict, boot
        return True

    def close(self, restored: vd.Verdict,
              actions: typing.List[act.Action],
              keep: typing.Optional[vd.VerdictKind] = None) -> None:
        """End the open episode, unless it is of kind ``keep``.

        ``restored`` is reported, numbered and classed after the episode
        it ends.
        """
        if self._open is None or self._open.kind is keep:
            return
        ended, self._open = self._open, None
        actions.append(act.Report(dataclasses.replace(
            restored, episode=ended.episode, fault_class=ended.fault_class,
            reason=vd.REASONS[restored.kind, ended.fault_class],
            severity=vd.Severity.OK)))
