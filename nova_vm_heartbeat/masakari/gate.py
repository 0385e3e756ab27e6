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

"""One back-off for every message while Masakari cannot be reached.

Each message waiting for Masakari could retry on its own, but a hundred
messages would then knock a hundred times per delay. The gate makes them
take turns: while Masakari answers, everyone passes; after a failure the
gate closes for a delay that doubles up to a cap, and when it opens again
one attempt (the probe) goes through alone. Its result opens the gate for
everyone or closes it for the next, longer delay.
"""

from __future__ import annotations

import threading
import time
import typing

from nova_vm_heartbeat.common.backoff import Backoff

Clock = typing.Callable[[], float]


class RetryGate:
    """Spaces out attempts to reach a peer that fails; thread safe."""

    def __init__(self, first: float, cap: float,
                 clock: Clock = time.monotonic):
        self._backoff = Backoff(first, cap)
        self._clock = clock
        self._cond = threading.Condition()
        self._failing = False
        self._probing = False
        self._open_at = 0.0
        self._stopped = False

    @property
    def failing(self) -> bool:
        """Whether the last attempt that counted failed."""
        return self._failing

    def enter(self) -> bool:
        """Wait until this caller may make an attempt.

        :returns: False if :meth:`stop` was called meanwhile; the caller
            then gives up (and puts its message back).
        """
        with self._cond:
            while not self._stopped:
                if not self._failing:
                    return True
                wait = self._open_at - self._clock()
                if wait <= 0 and not self._probing:
                    self._probing = True
                    return True
                self._cond.wait(wait if wait > 0 else None)
            return False

    def leave(self, reached: bool) -> typing.Optional[float]:
        """Say whether the attempt reached the peer.

        :returns: the delay the gate now stays closed, if it closed.
        """
        with self._cond:
            if reached:
                self._failing = self._probing = False
                self._backoff.reset()
                self._cond.notify_all()
                return None
            if self._failing and not self._probing:
                return None  # an attempt older than the last failure
            self._failing, self._probing = True, False
            delay = self._backoff.next()
            self._open_at = self._clock() + delay
            self._cond.notify_all()
            return delay

    def stop(self) -> None:
        """Release every waiting caller, for good."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
