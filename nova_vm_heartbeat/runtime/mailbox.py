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

"""Signals on their way to the monitor thread, and caps on operations.

:class:`Mailbox` holds the signals other threads post about each
instance (and the driver's word that an instance arrived, which must
reach the loop before the signals that follow it) until the monitor
thread takes them: nothing is dropped, in the order posted, and the
loop's inbox needs one call per instance with mail, however many signals
wait (bounded by the instances, not the traffic).

:class:`OperationCaps` ends, on the monitor thread, an operation whose
end never came (the driver's thread died, a bug lost it): each operation
has its own cap, so a lost end of a reboot does not suspend judgement for
the hour a migration may take.
"""

from __future__ import annotations

import functools
import threading
import typing

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.runtime.reactor import Reactor
from nova_vm_heartbeat.runtime.reactor import Timer
from nova_vm_heartbeat.sources.base import InstanceInfo

#: A signal, or an instance to monitor at once.
Mail = typing.Union[sig.Signal, InstanceInfo]
Expired = typing.Callable[[str, sig.Operation, float], None]


class Mailbox:
    """Mail per instance, waiting for the monitor thread. Thread safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mail: typing.Dict[str, typing.List[Mail]] = {}

    def put(self, uuid: str, signal: Mail) -> bool:
        """Keep ``signal``; True if ``uuid`` had no mail waiting before."""
        with self._lock:
            waiting = self._mail.setdefault(uuid, [])
            waiting.append(signal)
            return len(waiting) == 1

    def take(self, uuid: str) -> typing.List[Mail]:
        """Every signal waiting for ``uuid``, oldest first."""
        with self._lock:
            return self._mail.pop(uuid, [])

    def __len__(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._mail.values())


class OperationCaps:
    """Ends each operation that outlives its cap. Monitor thread only.

    :param caps: seconds per operation; an operation not listed is left
        to the monitor's own cap (``[heartbeat] max_operation``).
    :param expired: called with the instance, the operation and its cap
        when the cap passed before the operation's end was seen.
    """

    def __init__(self, reactor: Reactor,
                 caps: typing.Mapping[sig.Operation, float],
                 expired: Expired):
        self._reactor = reactor
        self._caps = dict(caps)
        self._expired = expired
        self._timers: typing.Dict[typing.Tuple[str, sig.Operation],
                                  Timer] = {}

    def note(self, uuid: str, signal: sig.Signal) -> None:
        """Start or end the cap of an operation, as ``signal`` says."""
        if isinstance(signal, sig.OperationStarted):
            cap = self._caps.get(signal.operation)
            if cap is not None:
                self._start(uuid, signal.operation, cap)
        elif isinstance(signal, sig.OperationFinished):
            self._reactor.cancel(
                self._timers.pop((uuid, signal.operation), None))

    def _start(self, uuid: str, operation: sig.Operation,
               cap: float) -> None:
        key = (uuid, operation)
        self._reactor.cancel(self._timers.pop(key, None))
        self._timers[key] = self._reactor.call_later(cap, functools.partial(
            self._expire, key, cap))

    def _expire(self, key: typing.Tuple[str, sig.Operation],
                cap: float) -> None:
        if self._timers.pop(key, None) is not None:
            self._expired(key[0], key[1], cap)

    def forget(self, uuid: str) -> None:
        """``uuid`` is no longer monitored."""
        for key in [k for k in self._timers if k[0] == uuid]:
            self._reactor.cancel(self._timers.pop(key))

    def __len__(self) -> int:
        return len(self._timers)
