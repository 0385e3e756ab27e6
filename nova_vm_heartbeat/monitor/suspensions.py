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

"""Why judgement is suspended, and until when at the latest."""

from __future__ import annotations

import typing

_NEVER = float("inf")


class Suspensions:
    """Named reasons to suspend judgement, each with a hard deadline.

    A reason ends when its owner says so (:meth:`end`) or when its cap
    passes (:meth:`expire`), whichever comes first.
    """

    def __init__(self) -> None:
        self._until: typing.Dict[str, float] = {}

    def __bool__(self) -> bool:
        return bool(self._until)

    def begin(self, reason: str, until: float) -> None:
        """Suspend for ``reason`` until ``until`` at the latest."""
        self._until[reason] = until

    def end(self, reason: str) -> bool:
        """End ``reason``; whether it was active."""
        return self._until.pop(reason, None) is not None

    def end_matching(self, prefix: str) -> None:
        """End every reason that starts with ``prefix``."""
        for reason in [r for r in self._until if r.startswith(prefix)]:
            del self._until[reason]

    def expire(self, now: float) -> typing.List[str]:
        """End the reasons whose cap passed; return them."""
        expired = [r for r, until in self._until.items() if now >= until]
        for reason in expired:
            del self._until[reason]
        return expired

    def active(self, now: float) -> typing.Dict[str, float]:
        """Active reasons and the seconds each has left."""
        return {r: max(0.0, until - now) for r, until in self._until.items()}

    def next_deadline(self) -> float:
        if not self._until:  # the common case, on every tick
            return _NEVER
        return min(self._until.values())
