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

"""Whether a verdict still says something true when the bridge reads it.

A verdict that waited (the broker or Masakari was away, a bridge was
down) may describe a guest that has recovered since: restarting it then
takes down a healthy VM. Before asking Masakari, the bridge checks two
things, and says in its log which one failed:

* **age**: the verdict was made at most ``[masakari_bridge]
  max_verdict_age`` seconds ago (its ``generated_at`` against the
  bridge's clock; hosts and bridge must keep their clocks in step, as
  Masakari's own duplicate detection already needs). A verdict dated in
  the future counts as made now.
* **no later restored**: no ``heartbeat_restored`` of the same instance
  and episode, made at or after the verdict, has been read by this
  bridge. The check is made before every attempt, so a verdict that
  waits for Masakari (retried, or put back on the queue and redelivered)
  is dropped as soon as the ``restored`` that followed it is read.

The ``restored`` verdicts read are kept in memory, at most
:data:`MAX_RESTORED` of them and none older than the age cap (an older
one can only match verdicts the age cap refuses anyway). Bridges of one
pool do not share them: a ``restored`` read by another bridge of the pool
does not stop this one, the age cap still does.
"""

from __future__ import annotations

import collections
import datetime
import threading
import typing

from nova_vm_heartbeat.notifications.received import Report

#: Most ``restored`` verdicts remembered.
MAX_RESTORED = 10000

Clock = typing.Callable[[], datetime.datetime]
_Episode = typing.Tuple[str, str, int]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _episode(report: Report) -> _Episode:
    return (report.host, report.instance_uuid, report.episode)


class Freshness:
    """Remembers the ``restored`` verdicts; judges the others. Thread safe.

    :param max_age: seconds a verdict stays actionable; 0 for no cap.
    """

    def __init__(self, max_age: float, clock: Clock = utc_now,
                 max_restored: int = MAX_RESTORED):
        self._max_age = (datetime.timedelta(seconds=max_age)
                         if max_age > 0 else None)
        self._clock = clock
        self._max_restored = max_restored
        self._lock = threading.Lock()
        self._restored: typing.OrderedDict[
            _Episode, datetime.datetime] = collections.OrderedDict()

    def restored(self, report: Report) -> None:
        """Remember that ``report``'s episode ended when it was made."""
        key = _episode(report)
        with self._lock:
            known = self._restored.pop(key, None)
            self._restored[key] = (report.generated_at if known is None
                                   else max(known, report.generated_at))
            self._prune()

    def why_stale(self, report: Report) -> typing.Optional[str]:
        """Why ``report`` is not worth acting on any more; None if it is."""
        age = self._clock() - report.generated_at
        if self._max_age is not None and age > self._max_age:
            return ("it was made %.0f s ago, more than [masakari_bridge] "
                    "max_verdict_age (%.0f s)"
                    % (age.total_seconds(), self._max_age.total_seconds()))
        with self._lock:
            ended = self._restored.get(_episode(report))
        if ended is not None and ended >= report.generated_at:
            return ("heartbeat_restored of the same episode (%d), made at "
                    "%s, came after it" % (report.episode, ended.isoformat()))
        return None

    def _prune(self) -> None:
        """Forget beyond the bound and beyond the age cap; lock held."""
        while len(self._restored) > self._max_restored:
            self._restored.popitem(last=False)
        if self._max_age is None:
            return
        horizon = self._clock() - self._max_age
        for key in [k for k, made in self._restored.items()
                    if made < horizon]:
            del self._restored[key]
