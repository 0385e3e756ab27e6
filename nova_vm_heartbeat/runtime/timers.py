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

"""Deadlines by key, on a grid of slots in one heap.

The runtime holds one deadline per instance (its monitor's
``next_deadline()``) and a few timers of its own; each set lives in a
:class:`DeadlineWheel`, so the loop sleeps until the earliest one and
wakes only the keys that are due: no timer or thread per instance, and no
polling of instances that have nothing to do.
"""

from __future__ import annotations

import heapq
import math
import typing

K = typing.TypeVar("K", bound=typing.Hashable)


class DeadlineWheel(typing.Generic[K]):
    """At most one deadline per key, on a grid of ``grain`` seconds.

    The fleet's deadlines: every instance moves its deadline about twice
    per interval, which a heap pays with a push and, later, a stale entry
    to pop. Here a deadline is rounded up to the grid and the key moves
    between two slots in constant time; the heap holds slot numbers only,
    one per slot in use. Keys due at the same slot come out in the order
    they were set.
    """

    def __init__(self, grain: float):
        self.grain = grain
        self._slot_of: typing.Dict[K, int] = {}
        #: slot -> its keys (a dict keeps them in insertion order)
        self._slots: typing.Dict[int, typing.Dict[K, None]] = {}
        self._heap: typing.List[int] = []

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, key: object) -> bool:
        return key in self._slot_of

    def get(self, key: K) -> typing.Optional[float]:
        slot = self._slot_of.get(key)
        return None if slot is None else slot * self.grain

    def set(self, key: K, when: float) -> None:
        """Set the deadline of ``key`` to ``when``, rounded up to the grid.

        Infinity or NaN removes it.
        """
        if not math.isfinite(when):  # one call: set() runs twice a beat
            self.discard(key)
            return
        # The epsilon keeps a deadline already on the grid in place.
        slot = math.ceil(when / self.grain - 1e-9)
        current = self._slot_of.get(key)
        if current == slot:
            return
        if current is not None:
            self._leave(key, current)
        self._slot_of[key] = slot
        keys = self._slots.get(slot)
        if keys is None:
            keys = self._slots[slot] = {}
            heapq.heappush(self._heap, slot)
        keys[key] = None

    def discard(self, key: K) -> None:
        slot = self._slot_of.pop(key, None)
        if slot is not None:
            self._leave(key, slot)

    def _leave(self, key: K, slot: int) -> None:
        keys = self._slots[slot]
        del keys[key]
        if not keys:
            del self._slots[slot]  # its heap entry is dropped lazily

    def next_deadline(self) -> float:
        """The earliest deadline, or infinity."""
        slot = self._first()
        return math.inf if slot is None else slot * self.grain

    def _first(self) -> typing.Optional[int]:
        while self._heap and self._heap[0] not in self._slots:
            heapq.heappop(self._heap)
        return self._heap[0] if self._heap else None

    def pop_due(self, now: float,
                limit: typing.Optional[int] = None) -> typing.List[K]:
        """Remove and return the keys due at ``now``, earliest first."""
        due: typing.List[K] = []
        while limit is None or len(due) < limit:
            slot = self._first()
            if slot is None or slot * self.grain > now:
                break
            keys = self._slots[slot]
            for key in list(keys)[:None if limit is None
                                  else limit - len(due)]:
                del keys[key]
                del self._slot_of[key]
                due.append(key)
            if not keys:
                del self._slots[slot]
                heapq.heappop(self._heap)
        return due
