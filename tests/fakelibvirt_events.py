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

"""A fake of libvirt's default event loop, for :mod:`tests.fakelibvirt`.

Callbacks that "libvirtd" fires (domain events, close callbacks) and the
timeouts registered with ``virEventAddTimeout`` run on whatever thread
calls ``virEventRunDefaultImpl``, as with the real event loop.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
import typing


class EventLoop:
    """libvirt's default event loop, as far as the runtime uses it."""

    def __init__(self) -> None:
        self.registered = False
        self._cond = threading.Condition()
        self._queue: typing.Deque[typing.Callable[[], None]] = \
            collections.deque()
        self._timeouts: typing.Dict[int, typing.List[typing.Any]] = {}
        self._ids = itertools.count(1)

    def dispatch(self, call: typing.Callable[[], None]) -> None:
        with self._cond:
            self._queue.append(call)
            self._cond.notify_all()

    def add_timeout(self, ms: int, callback: typing.Any,
                    opaque: object) -> int:
        with self._cond:
            timer_id = next(self._ids)
            self._timeouts[timer_id] = [
                ms, callback, opaque, time.monotonic() + ms / 1000.0]
            self._cond.notify_all()
            return timer_id

    def remove_timeout(self, timer_id: int) -> int:
        with self._cond:
            self._timeouts.pop(timer_id, None)
        return 0

    def run_once(self) -> int:
        if not self.registered:
            raise RuntimeError("fake libvirt: no event loop registered")
        with self._cond:
            if not self._queue:
                self._cond.wait(self._wait())
            calls = list(self._queue)
            self._queue.clear()
            calls += self._due_timeouts()
        for call in calls:
            call()
        return 0

    def _wait(self) -> float:
        deadlines = [t[3] for t in self._timeouts.values() if t[0] >= 0]
        return max(0.0, min(deadlines, default=time.monotonic() + 1.0)
                   - time.monotonic())

    def _due_timeouts(self) -> typing.List[typing.Callable[[], None]]:
        now, due = time.monotonic(), []
        for timer_id, timer in list(self._timeouts.items()):
            ms, callback, opaque, at = timer
            if ms >= 0 and at <= now:
                timer[3] = now + ms / 1000.0
                due.append(bind(callback, timer_id, opaque))
        return due


def bind(callback: typing.Any, *args: object) -> typing.Callable[[], None]:
    return lambda: callback(*args)
