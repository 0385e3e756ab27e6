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

"""Challenges over the QEMU guest agent, through libvirt.

A QGA challenge is ``guest-sync`` with a fresh random id, sent with
``libvirt_qemu.qemuAgentCommand``; only a reply that echoes the id proves
a live agent. (Not ``guest-sync-delimited``: libvirt cannot decode its
0xFF-prefixed reply and then refuses every agent command of the domain;
see :mod:`nova_vm_heartbeat.protocol.qga`.)

The call blocks (up to its timeout), so it runs on a small bounded pool
of worker threads, never on the monitor thread, and its outcome comes
back through ``post``. The pool is shared by every instance of the host,
so one tenant's agent that holds its port open and never answers must
not delay or fail another's challenge. :class:`QgaProber` schedules the
calls itself to make sure of it:

* **One call per instance.** While an instance's call runs, its next
  challenge is skipped (libvirt runs one agent command per domain at a
  time anyway); the monitor counts it missed when its timeout passes,
  which is evidence about that instance's own agent. A challenge that
  waits for a worker is replaced by the instance's next one.
* **Stuck agents wait last and share few workers.** An instance whose
  last call timed out (or took longer than its timeout) is *suspect*:
  its calls start only when no other instance's call waits, and suspect
  calls never hold more than all workers but one, so one worker is always
  left for the others (with a single worker, they still come last).
* **Not started in time, not sampled.** A call that cannot start within
  half its timeout (the workers are all busy) is not made: it is posted
  as :attr:`~.AgentError.NOT_SAMPLED`, which the monitor treats as "QGA
  state unknown", never as a miss.

Host-side errors (libvirtd gone, an unexpected exception) are posted as
:attr:`~.AgentError.HOST_ERROR`: never evidence against the instance. A
call that fails because libvirtd restarted since the last one is made
again at once on a new connection (:meth:`Hypervisor.retrying`).

Each instance's domain handle is kept while the connection it came from
is the hypervisor's, and dropped on any error of a call: looking the
domain up again for every challenge was a second round trip to libvirtd
per challenge (about a third of the monitor's CPU for one).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import math
import secrets
import threading
import time
import typing

from nova_vm_heartbeat.common.log_throttle import LogThrottle
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol import qga as qga_protocol
from nova_vm_heartbeat.runtime.hypervisor import Hypervisor
from nova_vm_heartbeat.runtime import libvirt_errors

LOG = logging.getLogger(__name__)

Post = typing.Callable[[str, sig.Signal], None]
#: Share of a challenge's timeout within which its call must start.
START_SHARE = 0.5
PING = qga_protocol.command("guest-ping")


@dataclasses.dataclass
class _Call:
    """One challenge waiting for a worker."""

    uuid: str
    seq: int
    timeout: float
    #: Monotonic time after which it is not worth starting.
    start_by: float


class QgaProber:
    """Sends QGA challenges on a bounded pool, fairly; posts the outcome."""

    def __init__(self, hypervisor: Hypervisor,
                 executor: concurrent.futures.Executor, workers: int,
                 post: Post,
                 clock: typing.Callable[[], float] = time.monotonic):
        self.hypervisor = hypervisor
        self._executor = executor
        self._post = post
        self._clock = clock
        self._workers = max(1, workers)
        self._max_suspect = max(1, self._workers - 1)
        self._lock = threading.Lock()
        #: Per instance, its call waiting for a worker.
        self._queued: typing.Dict[str, _Call] = {}
        #: Waiting calls in arrival order, trusted and suspect instances;
        #: a call replaced in ``_queued`` stays here until skipped.
        self._lines: typing.Tuple[typing.Deque[_Call],
                                  typing.Deque[_Call]] = (
            collections.deque(), collections.deque())
        self._running: typing.Set[str] = set()
        self._running_suspect = 0
        self._suspects: typing.Set[str] = set()
        self._active_workers = 0
        self._last_error: typing.Dict[str, sig.AgentError] = {}
        #: Per instance, its domain handle and the connection it is of.
        self._domains: typing.Dict[str, typing.Tuple[typing.Any,
                                                     typing.Any]] = {}
        # A guest can flap its agent: changes are logged at INFO at most
        # once a minute per instance, the rest at DEBUG.
        self._notes: typing.Dict[str, LogThrottle] = {}
        #: Challenges skipped because the previous one still ran.
        self.skipped = 0
        #: Challenges not made because no worker was free in time.
        self.not_sampled = 0

    def sync(self, uuid: str, seq: int, timeout: float) -> None:
        """Start challenge ``seq`` of domain ``uuid`` (from the loop)."""
        now = self._clock()
        with self._lock:
            if uuid in self._running:
                self.skipped += 1
                LOG.debug("Instance %(uuid)s: previous QGA challenge still "
                          "running; skipping %(seq)d",
                          {"uuid": uuid, "seq": seq})
                return
            dropped = self._expired(now)
            replaced = self._queued.pop(uuid, None)
            if replaced is not None:
                dropped.append(replaced)
            call = _Call(uuid, seq, timeout, now + START_SHARE * timeout)
            self._queued[uuid] = call
            self._lines[uuid in self._suspects].append(call)
            start = self._active_workers < self._workers
            if start:
                self._active_workers += 1
        self._unsampled(dropped)
        if start:
            self._start_worker()

    def _start_worker(self) -> None:
        try:
            self._executor.submit(self._work)
        except RuntimeError:  # shutting down
            with self._lock:
                self._active_workers -= 1

    def forget(self, uuid: str) -> None:
        """The instance is no longer monitored."""
        with self._lock:
            self._queued.pop(uuid, None)
            self._suspects.discard(uuid)
        self._last_error.pop(uuid, None)
        self._notes.pop(uuid, None)
        self._domains.pop(uuid, None)

    def _level(self, uuid: str, error: sig.AgentError) -> int:
        throttle = self._notes.setdefault(uuid, LogThrottle(60.0))
        if throttle.allow(time.monotonic()) is None:
            return logging.DEBUG
        return (logging.WARNING if error is sig.AgentError.HOST_ERROR
                else logging.INFO)

    # -- scheduling (lock held unless said) ----------------------------------

    def _expired(self, now: float) -> typing.List[_Call]:
        """Take the waiting calls it is too late to start."""
        late = []
        for line in self._lines:
            while line and (self._queued.get(line[0].uuid) is not line[0]
                            or line[0].start_by < now):
                call = line.popleft()
                if self._queued.get(call.uuid) is call:
                    del self._queued[call.uuid]
                    late.append(call)
        return late

    def _next(self, now: float) -> typing.Tuple[
            typing.Optional[_Call], bool, typing.List[_Call]]:
        """The next call, whether it is a suspect's, and the late calls."""
        late = self._expired(now)
        trusted, suspect = self._lines
        line = (trusted if trusted else suspect
                if self._running_suspect < self._max_suspect else None)
        if not line:
            self._active_workers -= 1
            return None, False, late
        call = line.popleft()
        del self._queued[call.uuid]
        self._running.add(call.uuid)
        if line is suspect:
            self._running_suspect += 1
        return call, line is suspect, late

    def _finished(self, call: _Call, suspect: bool, stuck: bool) -> None:
        self._running.discard(call.uuid)
        if suspect:
            self._running_suspect -= 1
        if stuck:
            self._suspects.add(call.uuid)
        else:
            self._suspects.discard(call.uuid)

    def _unsampled(self, calls: typing.List[_Call]) -> None:
        """Say the calls were not made (no lock held)."""
        for call in calls:
            self.not_sampled += 1
            LOG.debug("Instance %(uuid)s: no QGA worker free within "
                      "%(wait).1f s; challenge %(seq)d not sampled",
                      {"uuid": call.uuid, "seq": call.seq,
                       "wait": START_SHARE * call.timeout})
            self._post(call.uuid, sig.QgaFailed(
                call.seq, sig.AgentError.NOT_SAMPLED))

    # -- on a worker thread --------------------------------------------------

    def _work(self) -> None:
        """Make calls until none waits that this worker may make."""
        while True:
            with self._lock:
                call, suspect, late = self._next(self._clock())
            self._unsampled(late)
            if call is None:
                return
            started = self._clock()
            signal = self._run(call)
            stuck = (self._clock() - started > call.timeout
                     or (isinstance(signal, sig.QgaFailed) and signal.error
                         is sig.AgentError.UNRESPONSIVE))
            with self._lock:
                self._finished(call, suspect, stuck)
            self._post(call.uuid, signal)

    def _run(self, call: _Call) -> sig.Signal:
        try:
            return self._challenge(call.uuid, call.seq, call.timeout)
        except Exception:
            LOG.exception("Instance %(uuid)s: QGA challenge failed "
                          "unexpectedly", {"uuid": call.uuid})
            return sig.QgaFailed(call.seq, sig.AgentError.HOST_ERROR)

    def _challenge(self, uuid: str, seq: int, timeout: float) -> sig.Signal:
        seconds = max(1, math.ceil(timeout))
        try:
            answered = self.hypervisor.retrying(
                lambda: self._sync(self._domain(uuid), seconds))
        except self.hypervisor.error as err:
            self._domains.pop(uuid, None)
            return sig.QgaFailed(seq, self._failed(uuid, err))
        except errors.RemoteProtocolError as err:
            LOG.debug("Instance %(uuid)s: invalid QGA reply: %(err)s",
                      {"uuid": uuid, "err": err})
            answered = False
        if not answered:
            return sig.QgaFailed(seq, sig.AgentError.UNRESPONSIVE)
        self._recovered(uuid)
        return sig.QgaAnswered(seq)

    def _domain(self, uuid: str) -> typing.Any:
        """The domain handle of ``uuid``, looked up once per connection.

        Only this instance's worker uses its entry (one call per
        instance at a time).
        """
        connection = self.hypervisor.connection()
        cached = self._domains.get(uuid)
        if cached is not None and cached[0] is connection:
            return cached[1]
        domain = self.hypervisor.domain(uuid)
        self._domains[uuid] = (connection, domain)
        return domain

    def _sync(self, domain: typing.Any, seconds: int) -> bool:
        """Whether the agent echoed a fresh id (or, failing, pinged)."""
        sync_id = secrets.randbelow(qga_protocol.MAX_SYNC_ID + 1)
        reply = qga_protocol.parse_reply(self.hypervisor.agent_command(
            domain, qga_protocol.libvirt_sync_command(sync_id), seconds))
        if isinstance(reply, qga_protocol.Returned):
            return reply.value == sync_id \
                and not isinstance(reply.value, bool)
        # guest-sync refused (an allow-list): fall back to a
        # ping, a weaker proof (see the protocol spec).
        reply = qga_protocol.parse_reply(self.hypervisor.agent_command(
            domain, PING, seconds))
        return isinstance(reply, qga_protocol.Returned)

    def _failed(self, uuid: str, err: BaseException) -> sig.AgentError:
        error = libvirt_errors.classify(self.hypervisor.libvirt, err)
        if error is sig.AgentError.HOST_ERROR and self.hypervisor.reset(err):
            return error
        if self._last_error.get(uuid) is not error:
            self._last_error[uuid] = error
            LOG.log(self._level(uuid, error), "Instance %(uuid)s: QGA "
                    "challenge failed: %(error)s (%(err)s)",
                    {"uuid": uuid, "error": error.value, "err": err})
        return error

    def _recovered(self, uuid: str) -> None:
        error = self._last_error.pop(uuid, None)
        if error is not None:
            LOG.log(self._level(uuid, error), "Instance %(uuid)s: QGA "
                    "answers again (was %(error)s)",
                    {"uuid": uuid, "error": error.value})
