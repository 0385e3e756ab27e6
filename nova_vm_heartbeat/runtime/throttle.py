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

"""Logging what a guest (or a flapping host service) does, boundedly.

A guest decides how often it misbehaves, so what it makes us log must be
rate limited: :class:`nova_vm_heartbeat.common.log_throttle.LogThrottle`
(one class for the host and the guest agent) lets one message through
per period. :class:`BurstThrottle` keeps the first and the last lines of
a burst (of state changes), with a count. :class:`Once` logs a
condition when it begins and stays quiet while it lasts.
"""

from __future__ import annotations

import typing

from nova_vm_heartbeat.common.ratelimit import TokenBucket

__all__ = ["BurstThrottle", "Once"]


Line = typing.TypeVar("Line")


class BurstThrottle(typing.Generic[Line]):
    """Keeps the first and the last lines of a burst, with a count.

    ``burst`` lines go out at once, then ``burst`` per ``period``. Past
    that, lines are held: only the last is kept, and it goes out, with how
    many were held, as soon as the budget allows (:meth:`flush`, which
    the caller must call again while a line is held, even when nothing
    new happens). A normal story (healthy, suspect, failed,
    healthy) is logged whole; a guest that flaps its state a thousand
    times a minute gets about ``2 * burst`` lines a minute.
    """

    def __init__(self, burst: int = 4, period: float = 60.0):
        self._bucket = TokenBucket(burst / period, burst)
        self._last: typing.Optional[Line] = None
        self._held = 0

    @property
    def holding(self) -> bool:
        """Whether a held line waits for :meth:`flush`."""
        return self._last is not None

    def offer(self, now: float,
              line: Line) -> typing.List[typing.Tuple[Line, int]]:
        """What to log now: ``(line, held before it)`` pairs."""
        out = self.flush(now)
        if self._last is None and self._bucket.take(now):
            out.append((line, 0))
        else:
            self._last = line
            self._held += 1
        return out

    def flush(self, now: float) -> typing.List[typing.Tuple[Line, int]]:
        """The last held line, if the budget allows it now."""
        if self._last is None or not self._bucket.take(now):
            return []
        return self.drain()

    def drain(self) -> typing.List[typing.Tuple[Line, int]]:
        """The last held line, budget or not (the source of lines ends)."""
        if self._last is None:
            return []
        line, held = self._last, self._held - 1
        self._last, self._held = None, 0
        return [(line, held)]


class Once:
    """Remembers that a condition was reported, until it clears.

    ``Once.first()`` is true the first time a condition is seen after it
    was last cleared: log then, and stay quiet while it lasts.
    """

    def __init__(self) -> None:
        self.active = False

    def first(self) -> bool:
        """Whether the condition just began (it is now active)."""
        began = not self.active
        self.active = True
        return began

    def clear(self) -> bool:
        """Whether the condition was active (and is now over)."""
        ended, self.active = self.active, False
        return ended
