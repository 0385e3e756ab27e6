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
