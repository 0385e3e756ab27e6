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

"""Logging what a peer makes happen at will, boundedly.

A guest (or a local application, or a flapping host service) decides how
often it misbehaves, so what it makes us log must be rate limited:
:class:`LogThrottle` lets ``burst`` messages through, then one per period,
and counts the others; the next message that goes through says how many
were held back. :class:`ThrottledLog` keeps one throttle per kind of
message in front of a logger.
"""

from __future__ import annotations

import logging
import typing


class LogThrottle:
    """Allows ``burst`` messages, then one per ``period`` s; counts the rest.

    The rule is a generic cell rate: a message is allowed when the time it
    would be due at the sustained rate is at most ``burst - 1`` periods
    ahead of ``now``. With ``burst=1``, one message per period exactly.
    """

    def __init__(self, period: float = 60.0, burst: int = 1):
        if period <= 0 or burst < 1:
            raise ValueError("LogThrottle needs period > 0 and burst >= 1")
        self.period = period
        self.burst = burst
        self._due: typing.Optional[float] = None
        self._held = 0

    def allow(self, now: float) -> typing.Optional[int]:
        """None to stay silent; else how many were held back since."""
        due = now if self._due is None else max(self._due, now)
        if due - now > (self.burst - 1) * self.period:
            self._held += 1
            return None
        self._due = due + self.period
        held, self._held = self._held, 0
        return held


class ThrottledLog:
    """A logger that throttles each key (a kind of message) on its own."""

    #: Keys are the caller's own constants; the bound is a safety net.
    MAX_KEYS = 64

    def __init__(self, logger: logging.Logger,
                 clock: typing.Callable[[], float],
                 period: float = 10.0, burst: int = 5):
        self._logger = logger
        self._clock = clock
        self._period, self._burst = period, burst
        self._throttles: typing.Dict[str, LogThrottle] = {}

    def log(self, level: int, key: str, msg: str, *args: object) -> None:
        """Log ``msg % args`` unless ``key`` was logged too often lately."""
        throttle = self._throttles.get(key)
        if throttle is None:
            if len(self._throttles) >= self.MAX_KEYS:
                self._throttles.clear()
            throttle = LogThrottle(self._period, self._burst)
            self._throttles[key] = throttle
        held = throttle.allow(self._clock())
        if held is None:
            return
        if held:
            msg += " (%d similar messages suppressed)"
            args += (held,)
        self._logger.log(level, msg, *args)
