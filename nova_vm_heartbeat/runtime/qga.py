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
back through ``post``.

libvirt runs one agent command per domain at a time, and so do we: while
a domain's previous challenge is still running, the next one is skipped
(the monitor counts it as missed when its timeout passes). When the pool
itself is saturated, a challenge is reported as a host error instead:
that is our backlog, not the guest's fault.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import secrets
import threading
import time
import typing

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol import qga as qga_protocol
from nova_vm_heartbeat.runtime.hypervisor import Hypervisor
from nova_vm_heartbeat.runtime import libvirt_errors
from nova_vm_heartbeat.runtime.throttle import LogThrottle

LOG = logging.getLogger(__name__)

Post = typing.Callable[[str, sig.Signal], None]
#: Calls queued or running per worker before challenges are refused.
BACKLOG_PER_WORKER = 4
PING = qga_protocol.command("guest-ping")


class QgaProber:
    """Sends QGA challenges on a bounded pool; posts what came back."""

    def __init__(self, hypervisor: Hypervisor,
                 executor: concurrent.futures.Executor, workers: int,
                 post: Post):
        self.hypervisor = hypervisor
        self._executor = executor
        self._post = post
        self._max_backlog = max(1, workers) * BACKLOG_PER_WORKER
        self._lock = threading.Lock()
        self._busy: typing.Set[str] = set()
        self._last_error: typing.Dict[str, sig.AgentError] = {}
        # A guest can flap its agent: changes are logged at INFO at most
        # once a minute per instance, the rest at DEBUG.
        self._notes: typing.Dict[str, LogThrottle] = {}
        #: Challenges skipped because the previous one still ran.
        self.skipped = 0

    def sync(self, uuid: str, seq: int, timeout: float) -> None:
        """Start challenge ``seq`` of domain ``uuid`` (from the loop)."""
        with self._lock:
            if uuid in self._busy:
                self.skipped += 1
                LOG.debug("Instance %(uuid)s: previous QGA challenge still "
                          "running; skipping %(seq)d",
                          {"uuid": uuid, "seq": seq})
                return
            if len(self._busy) >= self._max_backlog:
                self._post(uuid, sig.QgaFailed(seq, sig.AgentError.HOST_ERROR))
                return
            self._busy.add(uuid)
        try:
            self._executor.submit(self._run, uuid, seq, timeout)
        except RuntimeError:  # shutting down
            self._done(uuid)

    def forget(self, uuid: str) -> None:
        """The instance is no longer monitored."""
        self._last_error.pop(uuid, None)
        self._notes.pop(uuid, None)

    def _level(self, uuid: str, error: sig.AgentError) -> int:
        throttle = self._notes.setdefault(uuid, LogThrottle(60.0))
        if throttle.allow(time.monotonic()) is None:
            return logging.DEBUG
        return (logging.WARNING if error is sig.AgentError.HOST_ERROR
                else logging.INFO)

    def _done(self, uuid: str) -> None:
        with self._lock:
            self._busy.discard(uuid)

    # -- on a worker thread --------------------------------------------------

    def _run(self, uuid: str, seq: int, timeout: float) -> None:
        try:
            signal = self._challenge(uuid, seq, timeout)
        except Exception:
            LOG.exception("Instance %(uuid)s: QGA challenge failed "
                          "unexpectedly", {"uuid": uuid})
            signal = sig.QgaFailed(seq, sig.AgentError.HOST_ERROR)
        finally:
            self._done(uuid)
        self._post(uuid, signal)

    def _challenge(self, uuid: str, seq: int, timeout: float) -> sig.Signal:
        seconds = max(1, math.ceil(timeout))
        try:
            domain = self.hypervisor.domain(uuid)
            answered = self._sync(domain, seconds)
        except self.hypervisor.error as err:
            return sig.QgaFailed(seq, self._failed(uuid, err))
        except errors.RemoteProtocolError as err:
            LOG.debug("Instance %(uuid)s: invalid QGA reply: %(err)s",
                      {"uuid": uuid, "err": err})
            answered = False
        if not answered:
            return sig.QgaFailed(seq, sig.AgentError.UNRESPONSIVE)
        self._recovered(uuid)
        return sig.QgaAnswered(seq)

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
