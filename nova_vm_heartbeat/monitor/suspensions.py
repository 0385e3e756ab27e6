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

import enum
import typing

_NEVER = float("inf")


class SuspensionKind(str, enum.Enum):
    """What suspends judgement; each kind has its own owner and cap."""

    #: A platform operation (the detail names it).
    OPERATION = "operation"
    #: A lifecycle transition libvirt reported (shutdown in progress).
    LIFECYCLE = "lifecycle"
    #: The guest agent said bye (the detail is its reason).
    BYE = "bye"
    #: The agent stopped on purpose and no QGA can stand in for it.
    AGENT_STOPPED = "agent_stopped"
    #: A maintenance window the guest asked for and was granted.
    MAINTENANCE = "maintenance"
    #: QEMU closed the heartbeat socket: it exits or restarts.
    CHANNEL_CLOSED = "channel"


#: A suspension: its kind and a detail ("" when the kind says it all).
Key = typing.Tuple[SuspensionKind, str]


def describe(key: Key) -> str:
    """``kind:detail`` (or ``kind``), for operators."""
    kind, detail = key
    return "%s:%s" % (kind.value, detail) if detail else kind.value


class Suspensions:
    """Typed reasons to suspend judgement, each with a hard deadline.

    A reason ends when its owner says so (:meth:`end`) or when its cap
    passes (:meth:`expire`), whichever comes first.
    """

    def __init__(self) -> None:
        self._until: typing.Dict[Key, float] = {}

    def __bool__(self) -> bool:
        return bool(self._until)

    def begin(self, kind: SuspensionKind, until: float,
              detail: str = "") -> None:
        """Suspend for ``kind`` (``detail``) until ``until`` at the latest."""
        self._until[kind, detail] = until

    def end(self, kind: SuspensionKind,
            detail: typing.Optional[str] = None) -> bool:
        """End ``kind`` (one ``detail``, or all); whether any was active."""
        ended = [k for k in self._until
                 if k[0] is kind and detail in (None, k[1])]
        for key in ended:
            del self._until[key]
        return bool(ended)

    def holds(self, kind: SuspensionKind) -> bool:
        """Whether a suspension of ``kind`` is active."""
        return any(k[0] is kind for k in self._until)

    def expire(self, now: float) -> typing.List[Key]:
        """End the reasons whose cap passed; return them."""
        expired = [k for k, until in self._until.items() if now >= until]
        for key in expired:
            del self._until[key]
        return expired

    def active(self, now: float) -> typing.Dict[str, float]:
        """Active reasons (described) and the seconds each has left."""
        return {describe(k): max(0.0, until - now)
                for k, until in self._until.items()}

    def next_deadline(self) -> float:
        if not self._until:  # the common case, on every tick
            return _NEVER
        return min(self._until.values())
