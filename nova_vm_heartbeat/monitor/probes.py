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

"""One channel's challenges: when to send, what is late, what came back."""

from __future__ import annotations

import math
import typing

#: After a restart, the second challenge goes on one of this many points
#: of a grid that divides the interval (when one lies between the first
#: challenge's timeout and one interval): instances with the same interval
#: then share these points and are challenged in that many batches per
#: interval, each a small share of them, rather than in one burst (a long
#: wait for the last of them) or one by one (a wake-up of the loop each).
CADENCE_SLOTS = 8
#: Challenges older than this many timeouts are forgotten, answered or not.
_FORGET_AFTER = 4
_NEVER = float("inf")


class Probe:
    """Schedules challenges on one channel and keeps their outcome.

    Pure bookkeeping: the caller says what time it is, sends what
    :meth:`due` returns and reports answers with :meth:`answered`.

    After a :meth:`restart` the first challenge is due at once and the
    second ``spread`` of the way from the first one's timeout to one
    interval (``spread`` in [0, 1]; 1: one interval), moved to a point of
    a grid of :data:`CADENCE_SLOTS` per interval; the cadence goes on
    from there. Instances that restart together (the monitor started, a
    stall or a libvirtd restart forgiven) say hello within the same
    second: with different spreads they are challenged in a few batches
    per interval from then on, not all in one burst every interval, which
    at 10,000 instances every 5 s held the loop back by seconds. The
    second challenge is never sent before the first has timed out (a QGA
    call to a domain waits for the one before), nor later than the
    cadence would have.
    """

    def __init__(self, interval: float, timeout: float,
                 spread: float = 1.0):
        if not 0.0 <= spread <= 1.0:
            raise ValueError("spread must be in [0, 1], not %r" % (spread,))
        self.interval = interval
        self.timeout = timeout
        self.spread = spread
        #: Whether the channel can be challenged now (socket connected,
        #: agent present).
        self.usable = True
        #: Consecutive challenges that timed out.
        self.misses = 0
        #: Every challenge that timed out or failed, ever (for operators).
        self.missed_total = 0
        self.last_good: typing.Optional[float] = None
        #: The latest challenge with an outcome could not say (a host-side
        #: error, not sampled): nothing is known of the agent.
        self.unknown = False
        self.last_rtt: typing.Optional[float] = None
        self._next_seq = 1
        self._next_at = 0.0
        #: The next challenge is the first since a restart.
        self._first = True
        self._pending: typing.Dict[int, float] = {}
        self._expired: typing.Dict[int, float] = {}

    def configure(self, interval: float, timeout: float) -> None:
        self.interval, self.timeout = interval, timeout

    def restart(self, now: float) -> None:
        """Forget outstanding challenges; challenge again right away."""
        self._pending.clear()
        self._expired.clear()
        self.misses = 0
        self._next_at = now
        self._first = True

    def hurry(self, now: float) -> None:
        """Make the next challenge due now, keeping everything else."""
        self._next_at = min(self._next_at, now)

    def due(self, now: float) -> typing.Optional[int]:
        """The seq of a challenge to send now, if one is due."""
        if not self.usable or now < self._next_at:
            return None
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        self._pending[seq] = now
        if self._first:
            self._first = False
            self._next_at = self._second(now)
            return seq
        # Keep the cadence, but never send a burst to catch up.
        self._next_at += self.interval
        if self._next_at <= now:
            self._next_at = now + self.interval
        return seq

    def _second(self, now: float) -> float:
        """When the second challenge after a restart is due."""
        earliest = now + min(self.timeout, self.interval)
        latest = now + self.interval
        at = earliest + (latest - earliest) * self.spread
        grain = self.interval / CADENCE_SLOTS
        if grain <= 0.0:
            return at
        snapped = math.ceil(at / grain) * grain
        if snapped > latest:
            snapped -= grain
        return snapped if snapped >= earliest else at

    def answered(self, now: float, seq: int) -> typing.Optional[float]:
        """Record an answer; its round trip, or None if seq is unknown.

        A late answer (after its timeout) still proves the guest alive.
        """
        sent = self._pending.pop(seq, None)
        if sent is None:
            sent = self._expired.pop(seq, None)
        if sent is None:
            return None
        self.last_good, self.last_rtt, self.misses = now, now - sent, 0
        self.unknown = False
        return self.last_rtt

    def failed(self, seq: int) -> bool:
        """A challenge failed before its timeout (an error came back)."""
        sent = self._pending.pop(seq, None)
        if sent is None:
            return False
        self._expired[seq] = sent
        self.unknown = False
        self.misses += 1
        self.missed_total += 1
        return True

    def cancel(self, seq: int) -> None:
        """Forget a challenge that neither passed nor failed (busy)."""
        if self._pending.pop(seq, None) is not None:
            self.unknown = True

    def expire(self, now: float) -> int:
        """Count the challenges whose timeout passed; return how many."""
        if not self._pending and not self._expired:
            return 0  # the common case: the last challenge was answered
        late = [seq for seq, sent in self._pending.items()
                if now >= sent + self.timeout]
        for seq in late:
            self._expired[seq] = self._pending.pop(seq)
        self.misses += len(late)
        self.missed_total += len(late)
        horizon = now - _FORGET_AFTER * max(self.timeout, self.interval)
        for seq in [s for s, sent in self._expired.items() if sent < horizon]:
            del self._expired[seq]
        return len(late)

    def late(self, now: float) -> bool:
        """Whether a challenge waits for its answer for half its timeout.

        A healthy guest answers within milliseconds: this is the first
        sign that a silence began, before any challenge has timed out.
        """
        for sent in self._pending.values():
            if now - sent >= self.timeout / 2:
                return True
        return False

    def next_deadline(self) -> float:
        """When this probe next needs a tick."""
        deadline = self._next_at if self.usable else _NEVER
        for sent in self._pending.values():
            due = sent + self.timeout
            if due < deadline:
                deadline = due
        return deadline
