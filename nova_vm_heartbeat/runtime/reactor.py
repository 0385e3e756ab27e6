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

"""One selector loop: sockets, timers and work handed over by other threads.

:class:`Reactor` is the heart of the monitor thread. It waits, in one
``select`` call, for any registered socket to become ready, for the wake-up
pipe (another thread handed work over with :meth:`Reactor.call_soon`) or
for the earliest timer. It is not thread safe, except for
:meth:`Reactor.call_soon`, which any thread may call and which never
blocks.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os
import selectors
import threading
import typing

from nova_vm_heartbeat.common.log_throttle import LogThrottle
from nova_vm_heartbeat.runtime.timers import DeadlineWheel

LOG = logging.getLogger(__name__)

Callback = typing.Callable[[], None]
#: Called with the ready events (``selectors.EVENT_READ``/``EVENT_WRITE``).
ReadyHandler = typing.Callable[[int], None]

#: Longest sleep of one iteration, so that a stop request or a clock jump
#: is noticed within this many seconds whatever happens.
MAX_WAIT = 0.5
#: Work items waiting for the loop; beyond this, handed-over work is
#: dropped (and counted) rather than growing without bound.
MAX_INBOX = 65536
#: Timers run per iteration at most, so sockets are served in between.
MAX_TIMERS_PER_ITERATION = 4096
#: Timers fire on a grid of this many seconds (at most this late).
TIMER_GRAIN = 0.001
#: What the wake-up pipe holds at most (Linux's default pipe size).
WAKE_PIPE_BYTES = 65536


@dataclasses.dataclass(eq=False)
class Timer:
    """A callback at a time; :meth:`Reactor.cancel` forgets it."""

    when: float
    callback: Callback


class Reactor:
    """A selector, a wake-up pipe, timers and an inbox."""

    def __init__(self, clock: typing.Callable[[], float],
                 max_inbox: int = MAX_INBOX):
        self.clock = clock
        self.max_inbox = max_inbox
        #: Work dropped because the inbox was full.
        self.dropped = 0
        self._selector = selectors.DefaultSelector()
        self._timers: DeadlineWheel[Timer] = DeadlineWheel(TIMER_GRAIN)
        self._inbox: typing.Deque[Callback] = collections.deque()
        self._errors = LogThrottle(60.0)
        self._closed = False
        self._wake_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)

    def close(self) -> None:
        with self._wake_lock:
            if self._closed:
                return
            self._closed = True
            self._selector.close()
            os.close(self._wake_r)
            os.close(self._wake_w)

    # -- any thread --------------------------------------------------------

    def call_soon(self, callback: Callback, force: bool = False) -> bool:
        """Run ``callback`` on the loop thread soon; False if dropped.

        :param force: never drop it (for the runtime's own bookkeeping,
            which is bounded; signals from outside are not forced).
        """
        if not force and len(self._inbox) >= self.max_inbox:
            self.dropped += 1
            return False
        self._inbox.append(callback)
        self.wake()
        return True

    def wake(self) -> None:
        """Make the current or next ``select`` return at once."""
        # Under the lock: once closed, the descriptor number may belong
        # to another file.
        with self._wake_lock:
            if self._closed:
                return
            try:
                os.write(self._wake_w, b"\0")
            except (BlockingIOError, InterruptedError):
                pass  # the pipe is full: the loop is awake anyway

    # -- the loop thread -----------------------------------------------------

    def call_at(self, when: float, callback: Callback) -> Timer:
        timer = Timer(when, callback)
        self._timers.set(timer, when)
        return timer

    def call_later(self, delay: float, callback: Callback) -> Timer:
        return self.call_at(self.clock() + delay, callback)

    def cancel(self, timer: typing.Optional[Timer]) -> None:
        if timer is not None:
            self._timers.discard(timer)

    def watch(self, fileobj: typing.Any, events: int,
              handler: ReadyHandler) -> None:
        """Call ``handler`` when ``fileobj`` is ready for ``events``.

        ``events`` 0 stops watching it.
        """
        if events == 0:
            self.unwatch(fileobj)
            return
        try:
            self._selector.modify(fileobj, events, handler)
        except KeyError:
            self._selector.register(fileobj, events, handler)

    def unwatch(self, fileobj: typing.Any) -> None:
        try:
            self._selector.unregister(fileobj)
        except (KeyError, ValueError):
            pass

    def run_once(self, deadline: float = math.inf) -> float:
        """Wait for the earliest of sockets, timers and ``deadline``.

        Runs what became ready and returns how many seconds later than
        planned the wait ended (0 when on time): a large value means the
        whole process was stalled.
        """
        now = self.clock()
        planned = min(deadline, self._timers.next_deadline(),
                      now + MAX_WAIT)
        if self._inbox:
            planned = now
        ready = self._selector.select(max(0.0, planned - now))
        woke = self.clock()
        for key, events in ready:
            if key.data is None:
                self._drain_wake_pipe()
            else:
                self._guarded(key.data, events)
        self._run_inbox()
        self._run_timers(self.clock())
        return max(0.0, woke - planned)

    def _drain_wake_pipe(self) -> None:
        # One read takes all (a pipe holds 64 KiB unless resized). Reading
        # again until EAGAIN would hang inside nova-compute in eventlet
        # mode: eventlet's os.read waits for data instead of raising.
        try:
            os.read(self._wake_r, WAKE_PIPE_BYTES)
        except (BlockingIOError, InterruptedError):
            pass

    def _run_inbox(self) -> None:
        for _ in range(len(self._inbox)):
            self._guarded(self._inbox.popleft())

    def _run_timers(self, now: float) -> None:
        for timer in self._timers.pop_due(now, MAX_TIMERS_PER_ITERATION):
            self._guarded(timer.callback)

    def _guarded(self, callback: typing.Callable[..., None],
                 *args: typing.Any) -> None:
        """Run ``callback``; a bug in it must not end the loop."""
        try:
            callback(*args)
        except Exception:
            held = self._errors.allow(self.clock())
            if held is not None:
                LOG.exception("Unexpected error in the monitor loop "
                              "(%(held)d more since the last report)",
                              {"held": held})
