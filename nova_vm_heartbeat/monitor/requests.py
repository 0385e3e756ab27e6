"""The budget of the guests' recovery requests.

A guest may ask to be recovered (a ``request`` message). Each granted
request may restart the instance, so a guest gets at most one per
cooldown, and all the guests of a host together at most a cap per hour;
beyond either, the guest is told no, with the reason, and it is counted.
This budget is separate from the verdict rate limit: a guest asking
cannot delay what the monitor itself decides.
"""

from __future__ import annotations

import collections
import typing

HOUR = 3600.0


class HostRequestBudget:
    """Recovery requests granted on the whole host, per sliding hour.

    Shared by every instance's monitor; pure, the caller says the time.
    """

    def __init__(self, per_hour: int):
        self.per_hour = per_hour
        self._granted: typing.Deque[float] = collections.deque()

    def take(self, now: float) -> bool:
        """Grant one request at ``now``; False if the hour's cap is used."""
        while self._granted and self._granted[0] <= now - HOUR:
            self._granted.popleft()
        if len(self._granted) >= self.per_hour:
            return False
        self._granted.append(now)
        return True
