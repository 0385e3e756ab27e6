"""Deadlines by key, in one heap, with lazy deletion.

The runtime holds one deadline per instance (its monitor's
``next_deadline()``) and a few timers of its own; all of them live in
:class:`DeadlineHeap`, so the loop sleeps until the earliest one and
wakes only the instances that are due: no timer or thread per instance,
and no polling of instances that have nothing to do.
"""

from __future__ import annotations

import heapq
import itertools
import math
import typing

K = typing.TypeVar("K", bound=typing.Hashable)

#: Stale heap entries tolerated before the heap is rebuilt.
_SLACK = 64


class DeadlineHeap(typing.Generic[K]):
    """At most one deadline per key; pops the keys that are due."""

    def __init__(self) -> None:
        self._heap: typing.List[typing.Tuple[float, int, K]] = []
        self._live: typing.Dict[K, typing.Tuple[float, int]] = {}
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def get(self, key: K) -> typing.Optional[float]:
        entry = self._live.get(key)
        return None if entry is None else entry[0]

    def set(self, key: K, when: float) -> None:
        """Set the deadline of ``key`` (infinity or NaN removes it)."""
        if math.isnan(when) or math.isinf(when):
            self.discard(key)
            return
        current = self._live.get(key)
        if current is not None and current[0] == when:
            return
        token = next(self._order)
        self._live[key] = (when, token)
        heapq.heappush(self._heap, (when, token, key))
        self._compact()

    def discard(self, key: K) -> None:
        self._live.pop(key, None)
        self._compact()

    def next_deadline(self) -> float:
        """The earliest deadline, or infinity."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else math.inf

    def pop_due(self, now: float,
                limit: typing.Optional[int] = None) -> typing.List[K]:
        """Remove and return the keys due at ``now``, earliest first."""
        due: typing.List[K] = []
        while limit is None or len(due) < limit:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                break
            _, _, key = heapq.heappop(self._heap)
            del self._live[key]
            due.append(key)
        return due

    def _is_live(self, entry: typing.Tuple[float, int, K]) -> bool:
        live = self._live.get(entry[2])
        return live is not None and live[1] == entry[1]

    def _drop_stale(self) -> None:
        while self._heap and not self._is_live(self._heap[0]):
            heapq.heappop(self._heap)

    def _compact(self) -> None:
        if len(self._heap) > 2 * len(self._live) + _SLACK:
            self._heap = [e for e in self._heap if self._is_live(e)]
            heapq.heapify(self._heap)
