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

"""Per-instance settings, and the operator's bounds that clamp them.

A flavor (or a guest) asks; the operator's :class:`Bounds` decide. Every
value that reaches the state machine went through :meth:`Bounds.clamp`.
"""

from __future__ import annotations

import dataclasses
import typing


@dataclasses.dataclass(frozen=True)
class Settings:
    """How one instance is judged.

    :param interval: seconds between challenges on each channel.
    :param timeout: seconds a challenge may take before it is a miss.
    :param failure_threshold: consecutive misses (and that many intervals
        of silence) before the heartbeat is lost.
    :param boot_grace: longest wait for the first good answer after the
        instance starts; ends early on the first good answer.
    :param heartbeat: whether the instance has our heartbeat channel.
    :param qga: whether the instance has the QEMU guest agent channel.
    """

    interval: float = 5.0
    timeout: float = 2.5
    failure_threshold: int = 3
    boot_grace: float = 300.0
    heartbeat: bool = True
    qga: bool = False


@dataclasses.dataclass(frozen=True)
class Bounds:
    """Operator floors and ceilings, and the caps on every suspension."""

    min_interval: float = 1.0
    max_interval: float = 300.0
    min_timeout: float = 0.5
    max_timeout: float = 60.0
    min_failure_threshold: int = 2
    max_failure_threshold: int = 20
    min_boot_grace: float = 30.0
    max_boot_grace: float = 1800.0
    #: Longest maintenance window a guest is granted, in seconds (0: the
    #: guest is refused every window).
    max_maintenance: int = 3600
    #: Seconds of maintenance (each grant plus the re-arm grace after it)
    #: one instance may be granted in all per ``maintenance_window``.
    maintenance_budget: float = 7200.0
    maintenance_window: float = 86400.0
    #: Longest judgement is suspended for one platform operation.
    max_operation: float = 3600.0
    #: Longest judgement is suspended for a lifecycle transition (reboot,
    #: shutdown in progress, pause by libvirt) before judging again.
    max_lifecycle: float = 600.0
    #: Grace after a suspension ends, before misses count again.
    rearm_grace: float = 60.0
    #: Verdicts per instance: burst, then one per ``verdict_interval``.
    verdict_burst: int = 5
    verdict_interval: float = 300.0
    #: Least seconds between two recovery requests granted to one guest.
    request_cooldown: float = 900.0
    #: Recovery requests granted per hour on the whole host.
    requests_per_hour: int = 10
    #: Seconds between two QGA challenges while our heartbeat channel
    #: answers (QGA on demand); never less than the instance's interval.
    qga_check_interval: float = 60.0

    def clamp(self, wanted: Settings) -> Settings:
        """Return ``wanted`` within these bounds.

        The timeout never exceeds the interval.
        """
        interval = _within(wanted.interval, self.min_interval,
                           self.max_interval)
        timeout = _within(wanted.timeout, self.min_timeout,
                          min(self.max_timeout, interval))
        return dataclasses.replace(
            wanted, interval=interval, timeout=timeout,
            failure_threshold=int(_within(
                wanted.failure_threshold, self.min_failure_threshold,
                self.max_failure_threshold)),
            boot_grace=_within(wanted.boot_grace, self.min_boot_grace,
                               self.max_boot_grace))


_Number = typing.TypeVar("_Number", int, float)


def _within(value: _Number, low: _Number, high: _Number) -> _Number:
    return max(low, min(value, high))
