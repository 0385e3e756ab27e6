"""Logging what a guest (or a flapping host service) does, boundedly.

A guest decides how often it misbehaves, so what it makes us log must be
rate limited: :class:`LogThrottle` lets one message through per period
and counts the rest; the next message that goes through says how many
were held back.
"""

from __future__ import annotations

import typing


class LogThrottle:
    """Allows one message per ``period`` seconds; counts the others."""

    def __init__(self, period: float = 60.0):
        self.period = period
        self._last: typing.Optional[float] = None
        self._held = 0

    def allow(self, now: float) -> typing.Optional[int]:
        """None to stay silent; else how many were held back since."""
        if self._last is not None and now - self._last < self.period:
            self._held += 1
            return None
        self._last = now
        held, self._held = self._held, 0
        return held


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
