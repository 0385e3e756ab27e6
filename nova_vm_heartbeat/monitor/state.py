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

"""The per-instance verdict state machine, as one table.

Everything that decides which state follows which lives in
:data:`TRANSITIONS`; :mod:`.machine` only works out which :class:`Trigger`
an observation amounts to. The table is complete (every state has a row
for every trigger), and the state diagram in the documentation is
generated from it.
"""

from __future__ import annotations

import enum
import typing


class MonitorState(str, enum.Enum):
    """Where an instance stands."""

    #: Just started, discovered, or re-armed: waiting (a bounded grace)
    #: for the first good answer. Silence is not judged yet.
    STARTING = "starting"
    #: Answers arrive and the guest reports itself healthy.
    HEALTHY = "healthy"
    #: At least one challenge went unanswered; not yet enough to judge.
    SUSPECT = "suspect"
    #: The heartbeat is lost (or the guest crashed): reported once.
    FAILED = "failed"
    #: The guest answers but reports a failed component: reported once.
    UNHEALTHY = "unhealthy"
    #: Judgement suspended for an operation, a lifecycle transition or a
    #: maintenance window; each has a hard cap.
    SUSPENDED = "suspended"
    #: The domain is not running (shut off, paused): nothing to judge.
    INACTIVE = "inactive"


class Trigger(str, enum.Enum):
    """What an observation amounts to, for the table."""

    #: A good answer (or report) on any channel, health ok.
    GOOD = "good"
    #: An answer (or report) with a failed component.
    UNWELL = "unwell"
    #: A challenge went unanswered within its timeout.
    MISS = "miss"
    #: Silence reached the failure threshold.
    LOST = "lost"
    #: The grace ended without a single good answer.
    GRACE_EXPIRED = "grace_expired"
    #: libvirt reported a crash or a guest panic.
    CRASH = "crash"
    #: An operation, lifecycle transition or maintenance window began.
    SUSPEND = "suspend"
    #: The last suspension ended (or hit its cap).
    RESUME = "resume"
    #: The domain started, or the guest rebooted: a new boot.
    BOOT = "boot"
    #: The domain stopped or was paused.
    HALT = "halt"


S = MonitorState
T = Trigger

#: state -> {trigger: next state}
TRANSITIONS: typing.Dict[MonitorState, typing.Dict[Trigger, MonitorState]] = {
    S.STARTING: {
        T.GOOD: S.HEALTHY, T.UNWELL: S.UNHEALTHY, T.MISS: S.STARTING,
        T.LOST: S.STARTING, T.GRACE_EXPIRED: S.FAILED, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.STARTING, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
    S.HEALTHY: {
        T.GOOD: S.HEALTHY, T.UNWELL: S.UNHEALTHY, T.MISS: S.SUSPECT,
        T.LOST: S.FAILED, T.GRACE_EXPIRED: S.HEALTHY, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.HEALTHY, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
    S.SUSPECT: {
        T.GOOD: S.HEALTHY, T.UNWELL: S.UNHEALTHY, T.MISS: S.SUSPECT,
        T.LOST: S.FAILED, T.GRACE_EXPIRED: S.SUSPECT, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.SUSPECT, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
    S.FAILED: {
        T.GOOD: S.HEALTHY, T.UNWELL: S.UNHEALTHY, T.MISS: S.FAILED,
        T.LOST: S.FAILED, T.GRACE_EXPIRED: S.FAILED, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.FAILED, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
    S.UNHEALTHY: {
        T.GOOD: S.HEALTHY, T.UNWELL: S.UNHEALTHY, T.MISS: S.SUSPECT,
        T.LOST: S.FAILED, T.GRACE_EXPIRED: S.UNHEALTHY, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.UNHEALTHY, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
    S.SUSPENDED: {
        T.GOOD: S.SUSPENDED, T.UNWELL: S.SUSPENDED, T.MISS: S.SUSPENDED,
        T.LOST: S.SUSPENDED, T.GRACE_EXPIRED: S.SUSPENDED,
        T.CRASH: S.FAILED, T.SUSPEND: S.SUSPENDED, T.RESUME: S.STARTING,
        T.BOOT: S.SUSPENDED, T.HALT: S.INACTIVE,
    },
    S.INACTIVE: {
        T.GOOD: S.STARTING, T.UNWELL: S.STARTING, T.MISS: S.INACTIVE,
        T.LOST: S.INACTIVE, T.GRACE_EXPIRED: S.INACTIVE, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.STARTING, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
}

#: States in which silence is judged (misses count towards a verdict).
JUDGING = frozenset({S.HEALTHY, S.SUSPECT, S.UNHEALTHY})


def next_state(state: MonitorState, trigger: Trigger) -> MonitorState:
    """The state that follows ``trigger`` in ``state``."""
    return TRANSITIONS[state][trigger]
